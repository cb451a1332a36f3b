"""The matching shared by distro security trackers (Debian, Alpine): advisories keyed by source package within
one namespace per release, each carrying that release's verdict on which versions are affected.

The distro's package ecosystem and version scheme come from `crscan.model.DISTROS`; a tracker adds its
namespace, its record's verdict and its severity."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence

from crscan.match.findings import ROWS_AT_ONCE, installed_version, make_finding, parsed, unorderable
from crscan.match.interface import Match, Matcher, Unordered
from crscan.model import DISTROS, Distro, Package, Severity
from crscan.versions import Version
from crscan.vulndb import FeedDB
from crscan.vulndb.records import FeedRecord

NOT_AFFECTED = "0"  # the fixed version both trackers give a vulnerability that never affected the release


class DistroFeedMatcher(Matcher):
    """Subclasses name the distro (a key of `DISTROS`) and read an advisory's verdict."""

    distro_id: str
    link: str  # format string taking the advisory id

    @abstractmethod
    def namespace(self, distro: Distro) -> str:
        """The feed namespace of the distro's release; "" when the release cannot be told (nothing matches)."""

    @abstractmethod
    def fixed_by(self, installed: Version | None, record: FeedRecord) -> str | None:
        """None when the installed version is not affected; else the fixed version ("" when there is none)."""

    @abstractmethod
    def severity(self, record: FeedRecord) -> tuple[Severity, str]:
        """The advisory's severity and where it came from."""

    def namespaces(self, distro: Distro) -> tuple[str, ...]:
        namespace = self.namespace(distro) if distro.id == self.distro_id else ""
        return (namespace,) if namespace else ()

    def match(self, packages: Sequence[Package], distro: Distro | None, db: FeedDB) -> Iterator[Match | Unordered]:
        if distro is None or distro.id != self.distro_id:
            return
        namespace = self.namespace(distro)
        if not namespace:
            return
        ecosystem = DISTROS[self.distro_id].ecosystem
        ours = [p for p in packages if p.ecosystem is ecosystem]
        for start in range(0, len(ours), ROWS_AT_ONCE):
            yield from self._match_chunk(ours[start:start + ROWS_AT_ONCE], distro, db, namespace)

    def _match_chunk(self, ours: Sequence[Package], distro: Distro, db: FeedDB,
                     namespace: str) -> Iterator[Match | Unordered]:
        ecosystem = DISTROS[self.distro_id].ecosystem
        rows = db.advisories_for(namespace, (p.source_name or p.name for p in ours))
        for package in ours:
            scheme = ecosystem.facts.scheme
            installed = parsed(scheme, installed_version(package))
            advisories = rows.get(package.source_name or package.name, ())
            if installed is None and advisories:
                yield Unordered(package, scheme, self.feed, unorderable(scheme, installed_version(package)))
            for advisory in advisories:
                fixed_by = self.fixed_by(installed, advisory.record)
                if fixed_by is None:
                    fixed = getattr(advisory.record, "fixed_version", "")
                    if installed is not None and fixed not in ("", NOT_AFFECTED) and parsed(scheme, fixed) is None:
                        yield Unordered(package, scheme, self.feed, unorderable(scheme, fixed),
                                        advisory.advisory_id)
                    continue
                severity, severity_source = self.severity(advisory.record)
                finding = make_finding(
                    package, distro, name=advisory.advisory_id, advisory_id=advisory.advisory_id,
                    link=self.link.format(advisory.advisory_id), fixed_by=fixed_by,
                    severity=severity, severity_source=severity_source, feed=self.feed,
                )
                yield Match(package, finding, (advisory.advisory_id,))
