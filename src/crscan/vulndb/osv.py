"""OSV: one `all.zip` per ecosystem, one `<ID>.json` record per advisory (https://ossf.github.io/osv-schema/)."""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

from crscan.model import DISTROS, Ecosystem
from crscan.vulndb import namespaces, severity
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.records import OsvRange, OsvRecord

# Language ecosystems first, then the distributions OSV also carries; a mirror may lack any of them.
ECOSYSTEMS = tuple(dict.fromkeys(
    (*(e.facts.osv for e in Ecosystem if e.facts.osv), *(d.osv for d in DISTROS.values() if d.osv))))
UPSTREAM = "https://osv-vulnerabilities.storage.googleapis.com"
MAX_RECORD_BYTES = 16 << 20  # the largest real record is well under 1 MB; more is a zip bomb
RANGE_TYPES = ("ECOSYSTEM", "SEMVER")  # GIT ranges name commits, which installed packages do not carry
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_CVE_IN_ID = re.compile(r"^(?:[A-Z]+-)?(CVE-\d{4}-\d+)$")
# Red Hat and its rebuilds name a module erratum's streams in its summary: "Important: nodejs:22 security update".
_MODULE_STREAM = re.compile(r"(?<![\w:.+-])([a-z0-9][a-z0-9_.+-]*:[a-z0-9][a-z0-9_.+-]*)(?![\w:])")
MODULE_BUILD = ".module"  # in the release of an rpm built for a module stream: 2.module+el9.8.0+24958+80b2ac6e


class MalformedRecord(ValueError):
    """One record is not valid OSV; it is skipped and counted, the rest of the feed is used."""


class OsvUpdater(Updater):
    feed = "osv"

    def __init__(self, ecosystem: str) -> None:
        self.ecosystem = ecosystem

    @property
    def name(self) -> str:
        return f"osv/{self.ecosystem}/all.zip"

    @property
    def upstream_url(self) -> str:
        return f"{UPSTREAM}/{self.ecosystem}/all.zip"

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_all_zip(reader, tally, source=self.name)


def parse_all_zip(reader: IO[bytes], tally: Tally, *, source: str = "all.zip") -> Iterator[Advisory]:
    """Rows of every record in an OSV `all.zip`; malformed, oversized or non-JSON members are counted."""
    # zipfile reports a damaged central directory in many ways: unsupported versions (NotImplementedError),
    # undecodable names (UnicodeDecodeError), bad offsets (ValueError).
    try:
        archive = zipfile.ZipFile(reader)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError) as exc:
        raise FeedError(f"{source}: not a zip archive ({exc})") from exc
    with archive:
        for member in archive.infolist():
            if not member.filename.endswith(".json") or member.is_dir():  # is_dir() fails on an empty name
                continue
            tally.records += 1
            if member.file_size > MAX_RECORD_BYTES:
                tally.skipped += 1
                continue
            try:
                record = json.loads(archive.read(member))
                rows = parse_record(record)
            except (MalformedRecord, ValueError, zipfile.BadZipFile, RuntimeError, EOFError, zlib.error):
                tally.skipped += 1
                continue
            yield from rows


def parse_record(record: Any) -> list[Advisory]:
    """One (advisory, package) row per package an OSV record affects; [] for withdrawn records."""
    if not isinstance(record, dict):
        raise MalformedRecord("record is not a JSON object")
    advisory_id = record.get("id")
    if not isinstance(advisory_id, str) or not advisory_id:
        raise MalformedRecord("record has no id")
    if record.get("withdrawn"):
        return []
    aliases = _strings(record.get("aliases", []), "aliases")
    affected = record.get("affected", [])
    if not isinstance(affected, list):
        raise MalformedRecord(f"{advisory_id}: affected is not a list")
    name = _display_name(advisory_id, aliases, record.get("upstream"))

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in affected:
        if not isinstance(entry, dict) or not isinstance(entry.get("package"), dict):
            raise MalformedRecord(f"{advisory_id}: affected entry without a package")
        ecosystem, package = entry["package"].get("ecosystem"), entry["package"].get("name")
        if not isinstance(ecosystem, str) or not isinstance(package, str) or not ecosystem or not package:
            raise MalformedRecord(f"{advisory_id}: package without ecosystem or name")
        ranges = [_range(r, advisory_id) for r in _list(entry.get("ranges", []), "ranges")]
        ranges = [r for r in ranges if r is not None]
        versions = _strings(entry.get("versions") or [], "versions")
        if any(not v or v != v.strip() or "\n" in v for v in versions):
            raise MalformedRecord(f"{advisory_id}: empty or blank-padded version in versions")
        if not ranges and not versions:
            continue
        key = (namespaces.osv(ecosystem), namespaces.package_key(ecosystem.split(":")[0], package))
        level, level_source, vector = severity.from_osv_with_vector(record, entry)
        row = rows.setdefault(key, {
            "name": name, "aliases": aliases, "ranges": [], "versions": {},  # a dict: ordered, deduplicated
            "severity": level, "severity_source": level_source, "cvss": vector,
        })
        row["ranges"].extend(ranges)
        row["versions"].update(dict.fromkeys(versions))
    summary = record.get("summary")
    streams = tuple(dict.fromkeys(_MODULE_STREAM.findall(summary))) if isinstance(summary, str) else ()
    return [
        Advisory("osv", ns, package, advisory_id, OsvRecord(
            data["name"], tuple(data["aliases"]), tuple(data["ranges"]), tuple(data["versions"]), data["severity"],
            data["severity_source"], streams if _module_build(data["ranges"]) else (), data["cvss"]))
        for (ns, package), data in rows.items()
    ]


def _module_build(ranges: list[OsvRange]) -> bool:
    return any(MODULE_BUILD in version for r in ranges for _, version in r.events)


def _range(value: Any, advisory_id: str) -> OsvRange | None:
    """An ECOSYSTEM/SEMVER range's events; None for range types we cannot use."""
    if not isinstance(value, dict) or not isinstance(value.get("events"), list):
        raise MalformedRecord(f"{advisory_id}: range without events")
    if value.get("type") not in RANGE_TYPES:
        return None
    events = []
    for event in value["events"]:
        if not isinstance(event, dict) or len(event) != 1:
            raise MalformedRecord(f"{advisory_id}: range event is not a single-key object")
        ((kind, version),) = event.items()
        if kind not in EVENT_KINDS or not isinstance(version, str) or not version:
            raise MalformedRecord(f"{advisory_id}: bad range event {event!r}")
        events.append((kind, version))
    if not any(kind == "introduced" for kind, _ in events):
        raise MalformedRecord(f"{advisory_id}: range has no introduced event")
    return OsvRange(value["type"], tuple(events))


def _display_name(advisory_id: str, aliases: list[str], upstream: Any) -> str:
    """The CVE id when the advisory has one (DEBIAN-CVE-… ids embed it), else the advisory's own id."""
    if match := _CVE_IN_ID.match(advisory_id):
        return match.group(1)
    for candidate in aliases + (upstream if isinstance(upstream, list) else []):
        if isinstance(candidate, str) and candidate.startswith("CVE-"):
            return candidate
    return advisory_id


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedRecord(f"{what} is not a list")
    return value


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedRecord(f"{what} is not a list of strings")
    return value
