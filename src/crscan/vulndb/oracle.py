"""Oracle Linux ELSA: Oracle's OVAL definitions of every advisory, one file (`com.oracle.elsa-all.xml.bz2`).

Each definition's criteria tree says which release, architecture and module stream a fix is for and the
fixed build of each binary rpm. The criterion comments state exactly what their tests check, and name the
package and version the `rpminfo_state` holds (`evr` `less than`), so they are read instead of resolving
test → object → state references (as Trivy's and Grype's Oracle parsers also do):

    "Oracle Linux 9 is installed"            the `oraclelinux-release` test: the release
    "Oracle Linux arch is aarch64"           per-arch branches, where the fixed builds differ by arch
    "Module nodejs:18 is enabled"            a module stream's build (Oracle Linux 8+)
    "openssl is earlier than 1:3.0.7-24.0.1.el9"    the package and its fixed epoch:version-release
    "openssl is signed with the Oracle Linux 9 key" (nothing to match on)

A mirror holds the file as `oracle/com.oracle.elsa-all.xml.bz2` (plain XML read too).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import IO

from crscan.vulndb import severity
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.rpm_vendor import decompressed, fix_rows

UPSTREAM = "https://linux.oracle.com/security/oval/com.oracle.elsa-all.xml.bz2"
_RELEASE = re.compile(r"^Oracle Linux (\d+) is installed$")
_ARCH = re.compile(r"^Oracle Linux arch is (\S+)$")
_MODULE = re.compile(r"^Module (\S+) is enabled$")
_EARLIER = re.compile(r"^(\S+) is earlier than (\S+)$")
_ELSA = re.compile(r"ELSA-\d{4}-\d+")
# Elements of the tests/objects/states sections: dropped as soon as they are read, never needed.
_UNUSED = {"rpminfo_test", "rpminfo_object", "rpminfo_state", "textfilecontent54_test",
           "textfilecontent54_object", "textfilecontent54_state"}


class OracleUpdater(Updater):
    feed = "oracle"
    name = "oracle/com.oracle.elsa-all.xml.bz2"
    upstream_url = UPSTREAM

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_oval(reader, tally, source=self.name)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_oval(reader: IO[bytes], tally: Tally, *, source: str = "oval") -> Iterator[Advisory]:
    """One row per (release, binary rpm, arch, module, CVE); a record is one `<definition>`."""
    stream = decompressed(reader, source)
    try:
        events = ET.iterparse(stream, events=("start", "end"))
        _, root = next(events)
        if _local(root.tag) != "oval_definitions":
            raise FeedError(f"{source}: root element is <{root.tag}>, not <oval_definitions>")
        parents: list[ET.Element] = [root]
        for event, element in events:
            if event == "start":
                parents.append(element)
                continue
            parents.pop()
            tag = _local(element.tag)
            if tag == "definition":
                tally.records += 1
                rows = _definition_rows(element)
                if rows is None:
                    tally.skipped += 1
                else:
                    yield from rows
            if (tag == "definition" or tag in _UNUSED) and parents:
                parents[-1].remove(element)  # the all-in-one file is hundreds of MB unpacked
    except (ET.ParseError, OSError, EOFError, StopIteration) as exc:
        raise FeedError(f"{source}: not an OVAL definitions XML file ({exc})") from exc


def _definition_rows(definition: ET.Element) -> list[Advisory] | None:
    metadata = next((c for c in definition if _local(c.tag) == "metadata"), None)
    criteria = next((c for c in definition if _local(c.tag) == "criteria"), None)
    if metadata is None or criteria is None:
        return None
    advisory_id, cves, impact = "", [], ""
    for element in metadata.iter():
        tag = _local(element.tag)
        if tag == "reference" and element.get("source") == "elsa":
            advisory_id = element.get("ref_id", "")
        elif tag == "reference" and element.get("source") == "CVE" and element.get("ref_id"):
            cves.append(element.get("ref_id", ""))
        elif tag == "title" and not advisory_id:
            found = _ELSA.search(element.text or "")
            advisory_id = found.group(0) if found else ""
        elif tag == "severity":
            impact = (element.text or "").strip()
    if not advisory_id:
        return None
    fixes: dict[str, list[tuple[str, str, str, str]]] = {}  # release -> (package, arch, evr, module)
    _walk(criteria, "", "", "", fixes)
    if not fixes:
        return None
    level = severity.from_vendor_impact(impact)
    source = "oracle" if level.name != "UNDEFINED" else "none"
    return [row for release, found in fixes.items()
            for row in fix_rows("oracle", release, advisory_id, cves, found, level, source)]


def _walk(criteria: ET.Element, release: str, arch: str, module: str,
          fixes: dict[str, list[tuple[str, str, str, str]]]) -> None:
    """Criteria at one level share the release/arch/module their sibling criteria state."""
    children = list(criteria)
    for child in children:
        comment = child.get("comment", "") if _local(child.tag) == "criterion" else ""
        if found := _RELEASE.match(comment):
            release = found.group(1)
        elif found := _ARCH.match(comment):
            arch = found.group(1)
        elif found := _MODULE.match(comment):
            module = found.group(1)
    for child in children:
        if _local(child.tag) == "criteria":
            _walk(child, release, arch, module, fixes)
        elif release and (found := _EARLIER.match(child.get("comment", ""))):
            # "0:1.2-3.el9" is "1.2-3.el9" (rpm's missing epoch is 0): shown as the package's own version is.
            fixes.setdefault(release, []).append((found.group(1), arch, found.group(2).removeprefix("0:"), module))
