"""The Debian security tracker: per source package and release codename, a status and a fixed version."""

from __future__ import annotations

from crscan.match.distro_feed import DistroFeedMatcher
from crscan.match.findings import parsed
from crscan.model import DISTROS, Distro, Severity
from crscan.versions import Version
from crscan.vulndb import namespaces
from crscan.vulndb.records import DebianEntry

LINK = "https://security-tracker.debian.org/tracker/{}"
NOT_AFFECTED = "0"  # a resolved entry with fixed version 0: the release never had the vulnerable code


def codename(distro: Distro) -> str:
    """The tracker keys releases by codename, which os-release of slim and older images often lacks."""
    return distro.codename or DISTROS["debian"].codename(distro.version_id)


class DebianMatcher(DistroFeedMatcher):
    feed = "debian"
    distro_id = "debian"
    link = LINK

    def namespace(self, distro: Distro) -> str:
        return namespaces.debian(codename(distro)) if codename(distro) else ""

    def fixed_by(self, installed: Version | None, record: DebianEntry) -> str | None:  # type: ignore[override]
        return vulnerable(installed, record)

    def severity(self, record: DebianEntry) -> tuple[Severity, str]:  # type: ignore[override]
        return record.severity, record.severity_source


def vulnerable(installed: Version | None, entry: DebianEntry) -> str | None:
    """None when not affected; else the fixed version ("" while the tracker knows no fix).

    open: affected, no fix yet. undetermined: affected as far as anyone knows (reported with
    UNDEFINED severity). resolved: affected iff the installed version is older than the fix.
    """
    status, fixed = entry.status, entry.fixed_version
    if status in ("open", "undetermined"):
        return ""
    if fixed == NOT_AFFECTED:
        return None
    fix = parsed("deb", fixed)
    if installed is None or fix is None:
        return None
    return fixed if installed < fix else None
