"""The Debian security tracker's JSON export: `{source: {CVE: {releases: {codename: {...}}}}}`."""

from __future__ import annotations

import json
import re
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
        text = _text(reader.read())
        if not text.lstrip(_WHITESPACE).startswith("{"):
            document = json.loads(text)  # to tell invalid JSON from valid JSON of the wrong shape
            raise FeedError(f"{source}: top level is not an object of source packages ({type(document).__name__})")
        yield from _rows(_members(text), tally)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"{source}: not JSON ({exc})") from exc


def _rows(packages: Iterator[tuple[str, Any]], tally: Tally) -> Iterator[Advisory]:
    for package, vulnerabilities in packages:
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


_WHITESPACE = " \t\n\r"
_SKIP_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _text(document: bytes) -> str:
    return document.decode(json.detect_encoding(document))


def _skip(text: str, position: int) -> int:
    found = _SKIP_WHITESPACE.match(text, position)
    return found.end() if found else position


def _members(text: str) -> Iterator[tuple[str, Any]]:
    """The top-level object's members one at a time, decoded by the standard decoder: the export (80 MB) is
    never one Python dict, which took ~10x its size in memory. A member may be yielded before a syntax error
    further on is found; the caller's build is then abandoned as a whole, as with any feed error."""
    decoder = json.JSONDecoder()
    position = _skip(text, text.index("{") + 1)
    if text.startswith("}", position):
        position += 1
    else:
        while True:
            if not text.startswith('"', position):
                raise ValueError(f"expected a source package name at char {position}")
            package, position = decoder.raw_decode(text, position)  # a JSON string: the opening quote is here
            position = _skip(text, position)
            if not text.startswith(":", position):
                raise ValueError(f"expected ':' at char {position}")
            start = _skip(text, position + 1)
            vulnerabilities, position = decoder.raw_decode(text, start)
            yield package, vulnerabilities
            position = _skip(text, position)
            if text.startswith(",", position):
                position = _skip(text, position + 1)
            elif text.startswith("}", position):
                position += 1
                break
            else:
                raise ValueError(f"expected ',' or '}}' at char {position}")
    if text[position:].strip(_WHITESPACE):
        raise ValueError(f"extra data at char {position}")


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
