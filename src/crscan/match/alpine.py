"""Alpine secdb: per release (`v3.X`) and origin package, the versions that fixed each vulnerability."""

from __future__ import annotations

from crscan.match.distro_feed import DistroFeedMatcher
from crscan.match.findings import parsed
from crscan.model import DISTROS, Distro, Severity
from crscan.versions import Version
from crscan.vulndb import namespaces
from crscan.vulndb.records import SecdbEntry

LINK = "https://security.alpinelinux.org/vuln/{}"
NOT_AFFECTED = "0"  # secfixes list `0` for vulnerabilities that never affected the package


class AlpineMatcher(DistroFeedMatcher):
    feed = "alpine"
    distro_id = "alpine"
    link = LINK

    def namespace(self, distro: Distro) -> str:
        """secdb names a release as OSV does: `v3.18` from VERSION_ID `3.18.4` ("" for edge snapshots)."""
        release = DISTROS[self.distro_id].osv_release.of(distro.version_id)
        return namespaces.alpine(release) if release else ""

    def fixed_by(self, installed: Version | None, record: SecdbEntry) -> str | None:  # type: ignore[override]
        fixed = record.fixed_version
        if fixed == NOT_AFFECTED or installed is None:
            return None
        fix = parsed("apk", fixed)
        return fixed if fix is not None and installed < fix else None

    def severity(self, record: SecdbEntry) -> tuple[Severity, str]:  # type: ignore[override]
        return Severity.UNDEFINED, "none"  # secdb rates nothing
