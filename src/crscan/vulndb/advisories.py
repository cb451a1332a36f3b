"""The Wolfi and Chainguard advisories repositories (`wolfi-dev/advisories`, `chainguard-dev/advisories`): one
YAML file per origin package (`<package>.advisories.yaml`), each advisory (`CGA-…`, its CVE/GHSA aliases) a
history of events. The secdb both distributions publish keeps only the fixed and false-positive outcomes; the
advisories also say why a vulnerability is still open.

An advisory's state is its latest event (by timestamp, file order breaking ties), in Trivy's words:
fixed -> fixed (at `data.fixed-version`); pending-upstream-fix, true-positive-determination -> affected;
fix-not-planned, analysis-not-planned -> will_not_fix; detection -> under_investigation;
false-positive-determination -> no row (not affected).

A mirror holds the repository's checkout as `wolfi/advisories` (`chainguard/advisories`); upstream is the
repository's archive.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from crscan.model import Severity
from crscan.vulndb import namespaces
from crscan.vulndb.interface import Advisory, Tally, Updater
from crscan.vulndb.records import VendorStatus
from crscan.vulndb.tree import archive_files, tree_files

REPOSITORIES = {
    "wolfi": "https://github.com/wolfi-dev/advisories/archive/refs/heads/main.tar.gz",
    "chainguard": "https://github.com/chainguard-dev/advisories/archive/refs/heads/main.tar.gz",
}
EVENTS = {
    "fixed": "fixed",
    "pending-upstream-fix": "affected",
    "true-positive-determination": "affected",
    "fix-not-planned": "will_not_fix",
    "analysis-not-planned": "will_not_fix",
    "detection": "under_investigation",
    "false-positive-determination": "",
}
_SUFFIX = ".advisories.yaml"
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AdvisoriesUpdater(Updater):
    """One distribution's advisories repository: rows of feed `<distro>-advisories`."""

    def __init__(self, distro: str) -> None:
        self.distro = distro
        self.feed = f"{distro}-advisories"

    @property
    def name(self) -> str:
        return f"{self.distro}/advisories"

    @property
    def upstream_url(self) -> str:
        return REPOSITORIES[self.distro]

    @property
    def file_name(self) -> str:
        return f"{self.distro}/advisories.tar.gz"

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        for _, data in archive_files(reader, is_advisories_file, self.name):
            yield from parse_advisories(data, self.feed, tally)

    def read(self, path: Path, tally: Tally) -> Iterator[Advisory]:
        for _, data in tree_files(path, is_advisories_file, self.name):
            yield from parse_advisories(data, self.feed, tally)


def is_advisories_file(path: str) -> bool:
    """The package files at the repository's top level (an archive nests them in one folder)."""
    return path.endswith(_SUFFIX) and path.count("/") <= 1


def parse_advisories(data: bytes, feed: str, tally: Tally) -> Iterator[Advisory]:
    """One row per advisory whose latest event says the package is affected or fixed; a record is one advisory
    (a file that is not a package's advisories document is one skipped record)."""
    try:
        document = yaml.load(data, Loader=_Loader)
        package = document["package"]["name"]
        advisories = document.get("advisories") or []
        if not isinstance(package, str) or not package or not isinstance(advisories, list):
            raise TypeError("no package name or advisories list")
    except (yaml.YAMLError, TypeError, KeyError, AttributeError):
        tally.records += 1
        tally.skipped += 1
        return
    namespace = namespaces.vendor_status(feed, "")
    for advisory in advisories:
        tally.records += 1
        row = _row(advisory)
        if row is None:
            tally.skipped += 1
        elif row[1].status:
            yield Advisory(feed, namespace, package, row[0], row[1])


def _row(advisory: Any) -> tuple[str, VendorStatus] | None:
    """(advisory id, its state); the state's status is "" when the latest event says not affected."""
    if not isinstance(advisory, dict) or not isinstance(advisory.get("id"), str):
        return None
    events = [e for e in advisory.get("events") or () if isinstance(e, dict)]
    if not events:
        return None
    _, _, latest = max((str(e.get("timestamp", "")), i, e) for i, e in enumerate(events))
    status = EVENTS.get(latest.get("type", ""))
    if status is None:
        return None
    fixed = ""
    if status == "fixed":
        fixed = str((latest.get("data") or {}).get("fixed-version", ""))
        if not fixed:
            return None
    aliases = [a for a in advisory.get("aliases") or () if isinstance(a, str)]
    name = next((a for a in aliases if a.startswith("CVE-")), aliases[0] if aliases else advisory["id"])
    return advisory["id"], VendorStatus(name, status, fixed, Severity.UNDEFINED, "none")
