"""Alpine secdb: per release (`v3.X`) and origin package, the versions that fixed each vulnerability."""

from __future__ import annotations

from crscan.match.distro_feed import DistroFeedMatcher
from crscan.match.findings import parsed
from crscan.model import Distro, Ecosystem, Severity
from crscan.versions import Version
from crscan.vulndb import namespaces

LINK = "https://security.alpinelinux.org/vuln/{}"
NOT_AFFECTED = "0"  # secfixes list `0` for vulnerabilities that never affected the package


def release(distro: Distro) -> str:
    """`v3.18` from VERSION_ID `3.18.4`; "" when the version is not of that form (edge snapshots)."""
    parts = distro.version_id.split(".")
    return f"v{parts[0]}.{parts[1]}" if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else ""


class AlpineMatcher(DistroFeedMatcher):
    feed = "alpine"
    distro_id = "alpine"
    ecosystem = Ecosystem.APK
    scheme = "apk"
    link = LINK

    def namespace(self, distro: Distro) -> str:
        return namespaces.alpine(release(distro)) if release(distro) else ""

    def fixed_by(self, installed: Version | None, data: dict) -> str | None:
        fixed = data["fixed_version"]
        if fixed == NOT_AFFECTED or installed is None:
            return None
        fix = parsed("apk", fixed)
        return fixed if fix is not None and installed < fix else None

    def severity(self, data: dict) -> tuple[Severity, str]:
        return Severity.UNDEFINED, "none"  # secdb rates nothing
