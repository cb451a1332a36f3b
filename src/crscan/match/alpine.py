"""Secdb feeds: per origin package, the versions that fixed each vulnerability. Alpine keys them by release
(`v3.X`); Wolfi and Chainguard, rolling distributions, have one namespace each."""

from __future__ import annotations

from crscan.match.distro_feed import DistroFeedMatcher
from crscan.match.findings import parsed
from crscan.model import DISTROS, Distro, Severity
from crscan.versions import Version
from crscan.vulndb import namespaces
from crscan.vulndb.records import SecdbEntry

NOT_AFFECTED = "0"  # secfixes list `0` for vulnerabilities that never affected the package


class SecdbMatcher(DistroFeedMatcher):
    """A secdb's verdict: affected while the installed version is below the listed fix."""

    def fixed_by(self, installed: Version | None, record: SecdbEntry) -> str | None:  # type: ignore[override]
        fixed = record.fixed_version
        if fixed == NOT_AFFECTED or installed is None:
            return None
        fix = parsed("apk", fixed)
        return fixed if fix is not None and installed < fix else None

    def severity(self, record: SecdbEntry) -> tuple[Severity, str]:  # type: ignore[override]
        return Severity.UNDEFINED, "none"  # secdb rates nothing


class AlpineMatcher(SecdbMatcher):
    feed = "alpine"
    distro_id = "alpine"
    link = "https://security.alpinelinux.org/vuln/{}"

    def namespace(self, distro: Distro) -> str:
        """secdb names a release as OSV does: `v3.18` from VERSION_ID `3.18.4` ("" for edge snapshots)."""
        release = DISTROS[self.distro_id].osv_release.of(distro.version_id)
        return namespaces.alpine(release) if release else ""


class RollingSecdbMatcher(SecdbMatcher):
    """Wolfi or Chainguard: the distro's one secdb, whatever VERSION_ID (a build date) says."""

    link = "https://images.chainguard.dev/security/{}"

    def __init__(self, distro_id: str) -> None:
        self.feed = self.distro_id = distro_id

    def namespace(self, distro: Distro) -> str:
        return namespaces.rolling(self.distro_id)
