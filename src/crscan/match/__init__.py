"""Matching installed packages against the feed DB.

    findings = match(packages, distro, FeedDB.open(path))
    findings, warnings = match_with_warnings(packages, distro, FeedDB.open(path))

Each feed has its own matcher; their results are merged into one finding per (package, vulnerability).
A package whose version its scheme cannot order is a warning, never a silent "not affected".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from crscan.match.alpine import AlpineMatcher, RollingSecdbMatcher
from crscan.match.debian import DebianMatcher
from crscan.match.interface import Match, Matcher, MatchError, Unordered
from crscan.match.osv import OsvMatcher
from crscan.match.rpm_vendor import vendor_matchers
from crscan.match.severity import absorb, is_cve, merged
from crscan.match.vendor_status import vendor_status_matchers
from crscan.model import DISTROS, Distro, Finding, Package
from crscan.vulndb import FeedDB
from crscan.vulndb.enrichment import cve_facts


def default_matchers() -> tuple[Matcher, ...]:
    """A new instance of every matcher (each keeps its own advisory cache). Distro feeds first: for OS
    packages their fixed versions and ratings are the distribution's own word."""
    return (DebianMatcher(), AlpineMatcher(), RollingSecdbMatcher("wolfi"), RollingSecdbMatcher("chainguard"),
            *vendor_matchers(), *vendor_status_matchers(), OsvMatcher())


# For `match` called on its own (tools, benchmarks); a scan.Scanner owns its matchers.
MATCHERS: tuple[Matcher, ...] = default_matchers()


class MatchResult(NamedTuple):
    findings: list[Finding]
    # What the findings cannot show: an OS crscan has no advisories for, an OS past its end of life, an OS
    # whose package database was not read, and each package version that could not be ordered.
    warnings: list[str]


def match(packages: Iterable[Package], distro: Distro | None, db: FeedDB,
          matchers: Sequence[Matcher] = MATCHERS) -> list[Finding]:
    """Every vulnerability affecting the packages, one finding per (package, vulnerability)."""
    return match_with_warnings(packages, distro, db, matchers).findings


def match_with_warnings(packages: Iterable[Package], distro: Distro | None, db: FeedDB,
                        matchers: Sequence[Matcher] = MATCHERS) -> MatchResult:
    """The findings, and what matching could not decide."""
    packages = list(packages)
    warnings: dict[str, None] = {}  # ordered set: packages at several paths warn once

    def matches() -> Iterator[Match]:
        for matcher in matchers:
            for found in matcher.match(packages, distro, db):
                if isinstance(found, Unordered):
                    warnings[found.warning] = None
                else:
                    yield found

    findings = merge(matches(), db)
    return MatchResult(findings, [*coverage_warnings(packages, distro, db, matchers), *warnings])


def coverage_warnings(packages: Sequence[Package], distro: Distro | None, db: FeedDB,
                      matchers: Sequence[Matcher] = MATCHERS) -> list[str]:
    """Why the image's OS packages may show no findings although they are vulnerable: never a silent zero."""
    if distro is None:
        return []
    facts = DISTROS.get(distro.id)
    label = " ".join(filter(None, (facts.name if facts else distro.id, distro.version_id)))
    if facts is None:
        return [f"OS {label} is not supported: its packages were not checked for vulnerabilities"]
    warnings = []
    end_of_life = facts.eol(distro.version_id)
    if end_of_life and end_of_life <= datetime.now(UTC).date().isoformat():
        warnings.append(f"OS {label} reached its end of life on {end_of_life}: its vendor publishes no more fixes, "
                        "so vulnerabilities found since are not reported")
    count = sum(1 for p in packages if p.ecosystem is facts.ecosystem)
    if not count:
        warnings.append(f"OS {label}: no {facts.ecosystem.value} package database was found or could be read, "
                        "so no OS package was checked")
    elif not any(db.has_namespace(ns) for matcher in matchers for ns in matcher.namespaces(distro)):
        warnings.append(f"OS {label}: the feed DB has no advisories for this release, so its {count} "
                        f"{facts.ecosystem.value} packages were not checked")
    return warnings


def merge(matches: Iterable[Match], db: FeedDB | None = None) -> list[Finding]:
    """One finding per package and vulnerability, two matches being the same vulnerability when any
    of their ids (CVE, GHSA, PYSEC, DSA, …) agree, directly or through a third match. See `severity.absorb`
    for what the merged finding keeps, and `severity.merged` for what `db`'s per-CVE facts add."""
    # Each group of matches is a slot of two parallel lists, not an object (nor a set of ids) per group: tens
    # of thousands of findings would otherwise each add objects for the cyclic collector to walk, and most
    # matches start a group, so that path allocates nothing of its own. Packages are keyed by object identity:
    # every matcher reports the same Package objects it was given.
    kept: list[Finding | None] = []  # None: the group was joined into another
    ids_of: list[tuple[str, ...] | set[str]] = []  # a match's tuple until a second match joins
    slots_of: dict[int, dict[str, int]] = {}  # package -> any id of a kept group -> its slot
    for found in matches:
        slot_of = slots_of.setdefault(id(found.package), {})
        hits: set[int] | None = None
        for i in found.ids:
            if (hit := slot_of.get(i)) is not None:
                if hits is None:
                    hits = {hit}
                else:
                    hits.add(hit)
        if hits is None:
            slot = len(kept)
            kept.append(found.finding)
            ids_of.append(found.ids)
        else:
            slot, *others = sorted(hits)
            joining: list[tuple[Finding, Iterable[str]]] = [(found.finding, found.ids)]
            for other in others:  # this match joins groups that shared no id before
                finding = kept[other]
                assert finding is not None
                joining.append((finding, ids_of[other]))
                kept[other] = None
                for i in ids_of[other]:
                    slot_of[i] = slot
            ids = ids_of[slot]
            if isinstance(ids, tuple):
                ids = ids_of[slot] = set(ids)
            for finding, more in joining:
                first = kept[slot]
                assert first is not None
                kept[slot] = absorb(found.package, first, finding)
                ids.update(more)
        for i in found.ids:
            slot_of.setdefault(i, slot)
    cves = {i for ids in ids_of for i in ids if is_cve(i)} | {f.name for f in kept if f is not None and is_cve(f.name)}
    facts = cve_facts(db, cves) if db is not None else None
    findings = [merged(finding, ids, facts) for finding, ids in zip(kept, ids_of, strict=True) if finding is not None]
    return sorted(findings, key=lambda f: (f.source, f.package, f.version, f.path, f.name, f.advisory_id))


__all__ = ["MATCHERS", "Match", "MatchError", "MatchResult", "Matcher", "Unordered", "coverage_warnings",
           "default_matchers", "match", "match_with_warnings", "merge"]
