"""The Debian security tracker: per source package and release codename, a status and a fixed version."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from crscan.match.findings import installed_version, make_finding, parsed
from crscan.match.interface import Match, Matcher
from crscan.model import Distro, Ecosystem, Package, Severity
from crscan.vulndb import FeedDB, namespaces

LINK = "https://security-tracker.debian.org/tracker/{}"
# os-release of Debian images often lacks VERSION_CODENAME (slim, older releases); the tracker keys by it.
CODENAMES = {
    "7": "wheezy", "8": "jessie", "9": "stretch", "10": "buster", "11": "bullseye", "12": "bookworm",
    "13": "trixie", "14": "forky",
}
NOT_AFFECTED = "0"  # a resolved entry with fixed version 0: the release never had the vulnerable code


def codename(distro: Distro) -> str:
    return distro.codename or CODENAMES.get(distro.version_id.split(".")[0], "")


class DebianMatcher(Matcher):
    feed = "debian"

    def match(self, packages: Sequence[Package], distro: Distro | None, db: FeedDB) -> Iterator[Match]:
        if distro is None or distro.id != "debian" or not codename(distro):
            return
        namespace = namespaces.debian(codename(distro))
        ours = [p for p in packages if p.ecosystem is Ecosystem.DPKG]
        rows = db.advisories_for(namespace, (p.source_name or p.name for p in ours))
        for package in ours:
            installed = parsed("deb", installed_version(package))
            for advisory in rows.get(package.source_name or package.name, ()):
                fixed_by = vulnerable(installed, advisory.data)
                if fixed_by is None:
                    continue
                finding = make_finding(
                    package, distro, name=advisory.advisory_id, advisory_id=advisory.advisory_id,
                    link=LINK.format(advisory.advisory_id), fixed_by=fixed_by,
                    severity=Severity[advisory.data["severity"]],
                    severity_source=advisory.data["severity_source"], feed=self.feed,
                )
                yield Match(package, finding, frozenset((advisory.advisory_id,)))


def vulnerable(installed, data: dict) -> str | None:
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
