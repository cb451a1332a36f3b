"""CBL-Mariner: Microsoft's OVAL definitions per release (microsoft/CBL-MarinerVulnerabilityData,
`cbl-mariner-<release>-oval.xml`), the data Trivy reads for Mariner.

One definition per (CVE, source package); its one criterion names an `rpminfo_test`, whose object is the
package and whose state the version:

    <definition><metadata><reference ref_id="CVE-2023-5678" source="CVE"/><patchable>true</patchable>
      <severity>Medium</severity></metadata>
      <criteria><criterion test_ref="oval:com.microsoft.cbl-mariner:tst:31880000"/></criteria></definition>
    <rpminfo_test id="…tst:31880000"><object object_ref="…obj:31880001"/><state state_ref="…ste:31880002"/>
    <rpminfo_object id="…obj:31880001"><name>openssl</name></rpminfo_object>
    <rpminfo_state id="…ste:31880002"><evr datatype="evr_string" operation="less than">0:1.1.1k-28.cm2</evr>

The state is read rather than the criterion's comment ("earlier than 1.1.1k-28"), which drops the release's
`.cm2` dist tag. A `patchable` definition with a `less than` state is a fix: installed builds older than
its evr are affected. A `less than or equal` state (`<patchable>false</patchable>`: "No patch is available
currently") names the last affected build: a row with no fix whose `last_affected` is that evr, as Trivy
reads it. A definition `not applicable` to Mariner gives no row. The file lists definitions
first, then tests, objects and states, so definitions are kept (small) until the references resolve.
A mirror holds each release as `mariner/cbl-mariner-<release>-oval.xml`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from crscan.model import Severity
from crscan.vulndb import namespaces, severity
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.records import RpmFix
from crscan.vulndb.rpm_vendor import decompressed, fix_rows

UPSTREAM = "https://raw.githubusercontent.com/microsoft/CBL-MarinerVulnerabilityData/main"
KNOWN_RELEASES = ("1.0", "2.0")  # Mariner 3.0 is Azure Linux 3, read through OSV
_FILE = re.compile(r"^cbl-mariner-(\d+\.\d+)-oval\.xml$")
_CVE = re.compile(r"^CVE-\d{4}-\d+$")


class MarinerUpdater(Updater):
    feed = "mariner"

    def __init__(self, release: str) -> None:
        if release not in KNOWN_RELEASES:
            raise ValueError(f"mariner release {release!r} is not one of {', '.join(KNOWN_RELEASES)}")
        self.release = release

    @property
    def name(self) -> str:
        return f"mariner/cbl-mariner-{self.release}-oval.xml"

    @property
    def upstream_url(self) -> str:
        return f"{UPSTREAM}/cbl-mariner-{self.release}-oval.xml"

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_oval(reader, tally, release=self.release, source=self.name)


def releases_in(mirror_dir: Path) -> tuple[str, ...]:
    """The releases a mirror directory has a file for."""
    found = {m.group(1) for p in (mirror_dir / "mariner").glob("cbl-mariner-*-oval.xml") if (m := _FILE.match(p.name))}
    return tuple(r for r in KNOWN_RELEASES if r in found)


@dataclass(frozen=True)
class _Definition:
    cve: str
    patchable: str  # "true", "false" or "not applicable"
    level: Severity
    test: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_oval(reader: IO[bytes], tally: Tally, *, release: str, source: str = "oval") -> Iterator[Advisory]:
    """One row per (source rpm, CVE) with a fix or a last affected build; a record is one `<definition>`."""
    definitions: list[_Definition | None] = []
    tests: dict[str, tuple[str, str]] = {}  # test id -> (object id, state id)
    names: dict[str, str] = {}  # object id -> package
    states: dict[str, tuple[str, str]] = {}  # state id -> (operation, evr)
    try:
        events = ET.iterparse(decompressed(reader, source), events=("start", "end"))
        _, root = next(events)
        if _local(root.tag) != "oval_definitions":
            raise FeedError(f"{source}: root element is <{root.tag}>, not <oval_definitions>")
        for event, element in events:
            if event != "end":
                continue
            tag = _local(element.tag)
            if tag == "definition":
                definitions.append(_definition(element))
            elif tag == "rpminfo_test":
                refs = {_local(c.tag): c.get("object_ref") or c.get("state_ref") or "" for c in element}
                tests[element.get("id", "")] = (refs.get("object", ""), refs.get("state", ""))
            elif tag == "rpminfo_object":
                names[element.get("id", "")] = next((c.text or "" for c in element if _local(c.tag) == "name"), "")
            elif tag == "rpminfo_state":
                evr = next((c for c in element if _local(c.tag) == "evr"), None)
                if evr is not None:
                    states[element.get("id", "")] = (evr.get("operation", ""), (evr.text or "").strip())
            else:
                continue
            element.clear()
    except (ET.ParseError, OSError, EOFError, StopIteration) as exc:
        raise FeedError(f"{source}: not an OVAL definitions XML file ({exc})") from exc
    for definition in definitions:
        tally.records += 1
        if definition is None:
            tally.skipped += 1
            continue
        object_id, state_id = tests.get(definition.test, ("", ""))
        package, (operation, evr) = names.get(object_id, ""), states.get(state_id, ("", ""))
        if not package or not evr or operation not in ("less than", "less than or equal"):
            tally.skipped += 1
            continue
        if definition.patchable == "not applicable":
            continue  # the vendor says the CVE does not apply to Mariner's build
        # "0:1.1.1k-28.cm2" is "1.1.1k-28.cm2" (rpm's missing epoch is 0): shown as the package's own version is.
        version = evr.removeprefix("0:")
        source_of_severity = "mariner" if definition.level is not Severity.UNDEFINED else "none"
        if operation == "less than or equal":
            yield Advisory("mariner", namespaces.rpm_vendor("mariner", release), package, definition.cve,
                           RpmFix(definition.cve, "", "", "", definition.level, source_of_severity,
                                  last_affected=version))
        elif definition.patchable == "true":
            yield from fix_rows("mariner", release, definition.cve, [definition.cve], [(package, "", version, "")],
                                definition.level, source_of_severity)


def _definition(element: ET.Element) -> _Definition | None:
    metadata = next((c for c in element if _local(c.tag) == "metadata"), None)
    criteria = next((c for c in element if _local(c.tag) == "criteria"), None)
    if metadata is None or criteria is None:
        return None
    cve, patchable, word = "", "", ""
    for child in metadata:
        tag = _local(child.tag)
        if tag == "reference" and child.get("source") == "CVE":
            cve = child.get("ref_id", "")
        elif tag == "patchable":
            patchable = (child.text or "").strip().lower()
        elif tag == "severity":
            word = child.text or ""
    test = next((c.get("test_ref", "") for c in criteria.iter() if _local(c.tag) == "criterion"), "")
    if not _CVE.match(cve) or not test:
        return None
    return _Definition(cve, patchable, severity.from_vendor("mariner", word), test)
