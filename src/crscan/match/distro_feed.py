"""The matching shared by distro security trackers (Debian, Alpine): advisories keyed by source package within
one namespace per release, each carrying that release's verdict on which versions are affected."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence

from crscan.match.findings import installed_version, make_finding, parsed, unorderable
from crscan.match.interface import Match, Matcher, Unordered
from crscan.model import Distro, Ecosystem, Package, Severity
from crscan.versions import Version
from crscan.vulndb import FeedDB

NOT_AFFECTED = "0"  # the fixed version both trackers give a vulnerability that never affected the release


class DistroFeedMatcher(Matcher):
    """Subclasses name the distro, its package ecosystem and version scheme, and read an advisory's verdict."""

    distro_id: str
    ecosystem: Ecosystem
    scheme: str
    link: str  # format string taking the advisory id

    @abstractmethod
    def namespace(self, distro: Distro) -> str:
        """The feed namespace of the distro's release; "" when the release cannot be told (nothing matches)."""

    @abstractmethod
    def fixed_by(self, installed: Version | None, data: dict) -> str | None:
        """None when the installed version is not affected; else the fixed version ("" when there is none)."""

    @abstractmethod
    def severity(self, data: dict) -> tuple[Severity, str]:
        """The advisory's severity and where it came from."""

    def match(self, packages: Sequence[Package], distro: Distro | None, db: FeedDB) -> Iterator[Match | Unordered]:
        if distro is None or distro.id != self.distro_id:
            return
        namespace = self.namespace(distro)
        if not namespace:
            return
        ours = [p for p in packages if p.ecosystem is self.ecosystem]
        rows = db.advisories_for(namespace, (p.source_name or p.name for p in ours))
        for package in ours:
            installed = parsed(self.scheme, installed_version(package))
            advisories = rows.get(package.source_name or package.name, ())
            if installed is None and advisories:
                yield Unordered(package, self.scheme, self.feed, unorderable(self.scheme, installed_version(package)))
            for advisory in advisories:
                fixed_by = self.fixed_by(installed, advisory.data)
                if fixed_by is None:
                    fixed = advisory.data.get("fixed_version", "")
                    if installed is not None and fixed not in ("", NOT_AFFECTED) and parsed(self.scheme, fixed) is None:
                        yield Unordered(package, self.scheme, self.feed, unorderable(self.scheme, fixed),
                                        advisory.advisory_id)
                    continue
                severity, severity_source = self.severity(advisory.data)
                finding = make_finding(
                    package, distro, name=advisory.advisory_id, advisory_id=advisory.advisory_id,
                    link=self.link.format(advisory.advisory_id), fixed_by=fixed_by,
                    severity=severity, severity_source=severity_source, feed=self.feed,
                )
                yield Match(package, finding, frozenset((advisory.advisory_id,)))
