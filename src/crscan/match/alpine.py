"""Alpine secdb: per release (`v3.X`) and origin package, the versions that fixed each vulnerability."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from crscan.match.findings import installed_version, make_finding, parsed
from crscan.match.interface import Match, Matcher
from crscan.model import Distro, Ecosystem, Package, Severity
from crscan.vulndb import FeedDB, namespaces

LINK = "https://security.alpinelinux.org/vuln/{}"
NOT_AFFECTED = "0"  # secfixes list `0` for vulnerabilities that never affected the package


def release(distro: Distro) -> str:
    """`v3.18` from VERSION_ID `3.18.4`; "" when the version is not of that form (edge snapshots)."""
    parts = distro.version_id.split(".")
    return f"v{parts[0]}.{parts[1]}" if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else ""


class AlpineMatcher(Matcher):
    feed = "alpine"

    def match(self, packages: Sequence[Package], distro: Distro | None, db: FeedDB) -> Iterator[Match]:
        if distro is None or distro.id != "alpine" or not release(distro):
            return
        namespace = namespaces.alpine(release(distro))
        ours = [p for p in packages if p.ecosystem is Ecosystem.APK]
        rows = db.advisories_for(namespace, (p.source_name or p.name for p in ours))
        for package in ours:
            installed = parsed("apk", installed_version(package))
            for advisory in rows.get(package.source_name or package.name, ()):
                fixed = advisory.data["fixed_version"]
                if fixed == NOT_AFFECTED or installed is None:
                    continue
                fix = parsed("apk", fixed)
                if fix is None or not installed < fix:
                    continue
                finding = make_finding(
                    package, distro, name=advisory.advisory_id, advisory_id=advisory.advisory_id,
                    link=LINK.format(advisory.advisory_id), fixed_by=fixed,
                    severity=Severity.UNDEFINED, severity_source="none", feed=self.feed,
                )
                yield Match(package, finding, frozenset((advisory.advisory_id,)))
