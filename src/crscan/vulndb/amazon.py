"""Amazon Linux ALAS: the `updateinfo.xml` of each release's core repository.

    <updates><update type="security"><id>ALAS2023-2023-126</id><severity>important</severity>
      <references><reference type="cve" id="CVE-2022-41974"/></references>
      <pkglist><collection><package name epoch version release arch/></collection></pkglist></update></updates>

Upstream publishes the file only through the repository metadata: `mirror.list` names the repository,
whose `repodata/repomd.xml` names the gzipped updateinfo under a content hash (`resolve_upstream` follows
that chain). A mirror holds it as `amazon/<release>/updateinfo.xml.gz` (or plain `updateinfo.xml`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from crscan.vulndb import severity
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.rpm_vendor import decompressed, evr, fix_rows

RELEASES = ("2", "2023")  # Amazon Linux 2 and 2023; AL1 (2018.03) ended in 2023
MIRROR_LISTS = {
    "2": "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list",
    "2023": "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list",
}
_REPO = "{http://linux.duke.edu/metadata/repo}"
FILES = ("updateinfo.xml.gz", "updateinfo.xml")


class AmazonUpdater(Updater):
    feed = "amazon"

    def __init__(self, release: str, file: str = FILES[0]) -> None:
        if release not in RELEASES:
            raise ValueError(f"amazon release {release!r} is not one of {', '.join(RELEASES)}")
        self.release = release
        self.file = file

    @property
    def name(self) -> str:
        return f"amazon/{self.release}/{self.file}"

    @property
    def upstream_url(self) -> str:
        return MIRROR_LISTS[self.release]

    def resolve_upstream(self, get: Callable[[str], bytes]) -> str:
        lines = get(self.upstream_url).decode("utf-8", "replace").split()
        if not lines:
            raise FeedError(f"{self.name}: {self.upstream_url} lists no repository")
        base = lines[0].rstrip("/")
        try:
            repomd = ET.fromstring(get(f"{base}/repodata/repomd.xml"))
        except ET.ParseError as exc:
            raise FeedError(f"{self.name}: {base}/repodata/repomd.xml is not XML ({exc})") from exc
        for data in repomd.iter(f"{_REPO}data"):
            location = data.find(f"{_REPO}location")
            if data.get("type") == "updateinfo" and location is not None and location.get("href"):
                return f"{base}/{location.get('href')}"
        raise FeedError(f"{self.name}: {base}/repodata/repomd.xml names no updateinfo")

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_updateinfo(reader, tally, release=self.release, source=self.name)


def updaters_for(mirror_dir: Path | None) -> list[AmazonUpdater]:
    """Per release, the file a mirror directory has (gzipped or not); upstream and mirror URLs take `.gz`."""
    if mirror_dir is None:
        return [AmazonUpdater(release) for release in RELEASES]
    found = []
    for release in RELEASES:
        file = next((f for f in FILES if (mirror_dir / "amazon" / release / f).is_file()), FILES[0])
        found.append(AmazonUpdater(release, file))
    return found


def parse_updateinfo(reader: IO[bytes], tally: Tally, *, release: str, source: str = "updateinfo.xml"
                     ) -> Iterator[Advisory]:
    """One row per (binary rpm, CVE) of each security update; a record is one `<update>`."""
    stream = decompressed(reader, source)
    try:
        events = ET.iterparse(stream, events=("start", "end"))
        _, root = next(events)
        if root.tag != "updates":
            raise FeedError(f"{source}: root element is <{root.tag}>, not <updates>")
        for event, element in events:
            if event != "end" or element.tag != "update":
                continue
            tally.records += 1
            rows = _update_rows(element, release)
            root.clear()  # an update is read once; the whole file is tens of MB
            if rows is None:
                tally.skipped += 1
            else:
                yield from rows
    except (ET.ParseError, OSError, EOFError) as exc:
        raise FeedError(f"{source}: not an updateinfo XML file ({exc})") from exc


def _update_rows(update: ET.Element, release: str) -> list[Advisory] | None:
    if update.get("type") != "security":
        return []  # bugfix and enhancement updates fix no vulnerability
    advisory_id = (update.findtext("id") or "").strip()
    if not advisory_id:
        return None
    cves = [ref.get("id", "") for ref in update.iterfind("references/reference")
            if ref.get("type") == "cve" and ref.get("id")]
    fixes = []
    for package in update.iterfind("pkglist/collection/package"):
        name, version, rel = package.get("name"), package.get("version"), package.get("release")
        if not name or not version or not rel:
            return None
        fixes.append((name, package.get("arch", ""), evr(package.get("epoch", ""), version, rel), ""))
    if not fixes:
        return None
    level = severity.from_vendor_impact(update.findtext("severity") or "")
    return list(fix_rows("amazon", release, advisory_id, cves, fixes, level,
                         "amazon" if level.name != "UNDEFINED" else "none"))
