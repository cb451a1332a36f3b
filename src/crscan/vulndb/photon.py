"""Photon OS: VMware's (Broadcom's) CVE metadata per release, `cve_data_photon<release>.json`.

    [{"cve_id": "CVE-2023-38545", "pkg": "curl", "cve_score": 9.8,
      "aff_ver": "all versions before 7.88.1-4.ph4 are vulnerable", "res_ver": "7.88.1-4.ph4", "status": "Fixed"}]

`pkg` is the binary rpm; `res_ver` its first fixed version-release. Entries "Not Affected", or without a
resolved version ("NA"), state no fix to compare against and give no row (the older releases' files have no
`status`: each entry is a fix). The score is CVSS v3's base score.
A mirror holds each release as `photon/cve_data_photon<release>.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from crscan.model import Severity
from crscan.vulndb import severity
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.rpm_vendor import fix_rows

UPSTREAM = "https://packages.broadcom.com/photon/photon_cve_metadata"
KNOWN_RELEASES = ("1.0", "2.0", "3.0", "4.0", "5.0")
_RELEASE = re.compile(r"^\d+\.\d+$")
_FILE = re.compile(r"^cve_data_photon(\d+\.\d+)\.json$")


class PhotonUpdater(Updater):
    feed = "photon"

    def __init__(self, release: str) -> None:
        if not _RELEASE.match(release):
            raise ValueError(f"photon release {release!r} is not of the form N.N")
        self.release = release

    @property
    def name(self) -> str:
        return f"photon/cve_data_photon{self.release}.json"

    @property
    def upstream_url(self) -> str:
        return f"{UPSTREAM}/cve_data_photon{self.release}.json"

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_cve_data(reader, tally, release=self.release, source=self.name)


def releases_in(mirror_dir: Path) -> tuple[str, ...]:
    """The releases a mirror directory has a file for, oldest first."""
    found = [m.group(1) for p in (mirror_dir / "photon").glob("cve_data_photon*.json") if (m := _FILE.match(p.name))]
    return tuple(sorted(found, key=lambda r: tuple(int(n) for n in r.split("."))))


def parse_cve_data(reader: IO[bytes], tally: Tally, *, release: str, source: str = "cve_data") -> Iterator[Advisory]:
    """One row per fixed (binary rpm, CVE); a record is one entry of the list."""
    try:
        document = json.load(reader)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"{source}: not JSON ({exc})") from exc
    if not isinstance(document, list):
        raise FeedError(f"{source}: top level is not a list of CVE entries")
    for entry in document:
        tally.records += 1
        row = _entry_row(entry, release)
        if row is None:
            tally.skipped += 1
        elif row is not _NO_FIX:
            yield from row


_NO_FIX: list[Advisory] = []


def _score_level(score: Any) -> Severity:
    """`cve_score` is a number, sometimes a numeric string, or null."""
    try:
        return severity.from_cvss_score(float(score)) if score is not None and not isinstance(score, bool) \
            else Severity.UNDEFINED
    except ValueError:
        return Severity.UNDEFINED


def _entry_row(entry: Any, release: str) -> list[Advisory] | None:
    if not isinstance(entry, dict):
        return None
    cve, package, fixed = (entry.get(k) for k in ("cve_id", "pkg", "res_ver"))
    status = entry.get("status", "Fixed")  # the older releases' files have no status: every entry is a fix
    if not all(isinstance(v, str) and v for v in (cve, package, status)) or not isinstance(fixed, str):
        return None
    if status != "Fixed" or fixed in ("", "NA"):
        return _NO_FIX
    level = _score_level(entry.get("cve_score"))
    return list(fix_rows("photon", release, str(cve), [str(cve)], [(str(package), "", fixed, "")], level,
                         "cvss_v3" if level is not Severity.UNDEFINED else "none"))
