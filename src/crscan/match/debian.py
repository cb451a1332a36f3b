"""The Debian security tracker: per source package and release codename, a status and a fixed version."""

from __future__ import annotations

from crscan.match.distro_feed import DistroFeedMatcher
from crscan.match.findings import parsed
from crscan.model import Distro, Ecosystem, Severity
from crscan.versions import Version
from crscan.vulndb import namespaces

LINK = "https://security-tracker.debian.org/tracker/{}"
# os-release of Debian images often lacks VERSION_CODENAME (slim, older releases); the tracker keys by it.
CODENAMES = {
    "7": "wheezy", "8": "jessie", "9": "stretch", "10": "buster", "11": "bullseye", "12": "bookworm",
    "13": "trixie", "14": "forky",
}
NOT_AFFECTED = "0"  # a resolved entry with fixed version 0: the release never had the vulnerable code


def codename(distro: Distro) -> str:
    return distro.codename or CODENAMES.get(distro.version_id.split(".")[0], "")


class DebianMatcher(DistroFeedMatcher):
    feed = "debian"
    distro_id = "debian"
    ecosystem = Ecosystem.DPKG
    scheme = "deb"
    link = LINK

    def namespace(self, distro: Distro) -> str:
        return namespaces.debian(codename(distro)) if codename(distro) else ""

    def fixed_by(self, installed: Version | None, data: dict) -> str | None:
        return vulnerable(installed, data)

    def severity(self, data: dict) -> tuple[Severity, str]:
        return Severity[data["severity"]], data["severity_source"]


def vulnerable(installed: Version | None, data: dict) -> str | None:
    """None when not affected; else the fixed version ("" while the tracker knows no fix).

    open: affected, no fix yet. undetermined: affected as far as anyone knows (reported with
    UNDEFINED severity). resolved: affected iff the installed version is older than the fix.
    """
    status, fixed = data["status"], data["fixed_version"]
    if status in ("open", "undetermined"):
        return ""
    if fixed == NOT_AFFECTED:
        return None
    fix = parsed("deb", fixed)
    if installed is None or fix is None:
        return None
    return fixed if installed < fix else None
