"""Secdb feeds: `packages[].pkg.secfixes: {fixed version: [ids]}`. Alpine publishes one per release and
repository; Wolfi and Chainguard, rolling distributions built the same way, one each (`security.json`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from crscan.vulndb import namespaces
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.records import SecdbEntry

UPSTREAM = "https://secdb.alpinelinux.org"
REPOSITORIES = ("main", "community")
# Releases tried where the mirror cannot be listed (upstream or a mirror URL); missing ones are skipped.
KNOWN_RELEASES = tuple(f"v3.{minor}" for minor in range(0, 23))
_RELEASE = re.compile(r"^v\d+\.\d+$")


class AlpineUpdater(Updater):
    feed = "alpine"

    def __init__(self, release: str, repository: str) -> None:
        if not _RELEASE.match(release):
            raise ValueError(f"alpine release {release!r} is not of the form v3.X")
        self.release = release
        self.repository = repository

    @property
    def name(self) -> str:
        return f"alpine/{self.release}/{self.repository}.json"

    @property
    def upstream_url(self) -> str:
        return f"{UPSTREAM}/{self.release}/{self.repository}.json"

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_secdb(reader, tally, namespace=namespaces.alpine(self.release), source=self.name)


class RollingSecdbUpdater(Updater):
    """Wolfi's or Chainguard's secdb: one file for the whole distribution, keyed by origin package."""

    def __init__(self, feed: str, upstream_url: str) -> None:
        self.feed = feed
        self._upstream_url = upstream_url

    @property
    def name(self) -> str:
        return f"{self.feed}/security.json"

    @property
    def upstream_url(self) -> str:
        return self._upstream_url

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_secdb(reader, tally, namespace=namespaces.rolling(self.feed), source=self.name, feed=self.feed)


# Feed name (an os-release ID and a key of RECORDS) -> its secdb's upstream URL.
ROLLING_SECDBS = {
    "wolfi": "https://packages.wolfi.dev/os/security.json",
    "chainguard": "https://packages.cgr.dev/chainguard/security.json",
}


def parse_secdb(reader: IO[bytes], tally: Tally, *, namespace: str, source: str = "secdb",
                feed: str = "alpine") -> Iterator[Advisory]:
    """One row per (package, vulnerability id, fixed version); a record is one package entry."""
    try:
        document = json.load(reader)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"{source}: not JSON ({exc})") from exc
    if not isinstance(document, dict) or "packages" not in document:
        raise FeedError(f"{source}: no `packages` list")
    packages = document["packages"]
    if not isinstance(packages, list | None):
        raise FeedError(f"{source}: `packages` is not a list")
    for entry in packages or ():  # a repository without fixes has `"packages": null`
        tally.records += 1
        pkg = entry.get("pkg") if isinstance(entry, dict) else None
        name = pkg.get("name") if isinstance(pkg, dict) else None
        secfixes = pkg.get("secfixes") if isinstance(pkg, dict) else None
        if not isinstance(name, str) or not name or not isinstance(secfixes, dict):
            tally.skipped += 1
            continue
        rows: list[Advisory] = []
        for fixed, ids in secfixes.items():
            if ids is None:
                continue  # upstream writes a version with its list left empty as null
            if not isinstance(ids, list) or not fixed:
                tally.skipped += 1  # the whole package: a partial fix list would under-report
                break
            for text in ids:
                # Entries are "CVE-2019-1234", sometimes followed by a second id or a remark.
                vulnerability = text.split()[0] if isinstance(text, str) and text.strip() else None
                if vulnerability:
                    rows.append(Advisory(feed, namespace, name, vulnerability, SecdbEntry(str(fixed))))
        else:
            yield from rows


def releases_in(mirror_dir: Path) -> tuple[str, ...]:
    """The `v3.X` releases a mirror directory holds, oldest first."""
    found = [p.name for p in (mirror_dir / "alpine").glob("v*") if p.is_dir() and _RELEASE.match(p.name)]
    return tuple(sorted(found, key=lambda r: tuple(int(n) for n in r[1:].split("."))))
