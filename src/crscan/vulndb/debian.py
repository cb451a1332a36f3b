"""The Debian security tracker's JSON export: `{source: {CVE: {releases: {codename: {...}}}}}`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from crscan.model import Severity
from crscan.vulndb import namespaces, severity
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.records import DebianEntry

STATUSES = ("open", "resolved", "undetermined")


class DebianUpdater(Updater):
    feed = "debian"
    name = "debian/json"
    upstream_url = "https://security-tracker.debian.org/tracker/data/json"

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_tracker_json(reader, tally, source=self.name)


def parse_tracker_json(reader: IO[bytes], tally: Tally, *, source: str = "debian/json") -> Iterator[Advisory]:
    """One row per (source package, vulnerability, release); a record is one such triple."""
    try:
        document = json.load(reader)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"{source}: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise FeedError(f"{source}: top level is not an object of source packages")
    for package, vulnerabilities in document.items():
        if not isinstance(vulnerabilities, dict) or not package:  # a row keyed by "" matches nothing
            tally.records += 1
            tally.skipped += 1
            continue
        for vulnerability, entry in vulnerabilities.items():
            releases = entry.get("releases") if isinstance(entry, dict) else None
            if not isinstance(releases, dict) or not vulnerability:
                tally.records += 1
                tally.skipped += 1
                continue
            for codename, state in releases.items():
                tally.records += 1
                data = _release_state(state) if codename else None
                if data is None:
                    tally.skipped += 1
                    continue
                yield Advisory("debian", namespaces.debian(codename), package, vulnerability, data)


def _release_state(state: Any) -> DebianEntry | None:
    if not isinstance(state, dict) or state.get("status") not in STATUSES:
        return None
    fixed = state.get("fixed_version", "")
    urgency = state.get("urgency", "")
    if not isinstance(fixed, str) or not isinstance(urgency, str):
        return None
    if state["status"] == "resolved" and not fixed:
        return None  # resolved without a version says nothing we can compare
    level = Severity.UNDEFINED if state["status"] == "undetermined" else severity.from_debian_urgency(urgency)
    return DebianEntry(
        status=state["status"],
        fixed_version=fixed,
        severity=level,
        severity_source="debian" if level is not Severity.UNDEFINED else "none",
        # No DSA will be issued (minor issue); still a vulnerability, kept so reports can say so.
        nodsa=bool(state.get("nodsa")),
    )
