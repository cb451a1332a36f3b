"""Vendor status feeds (the Ubuntu CVE tracker, Red Hat's CSAF VEX, the Wolfi and Chainguard advisories): per
release and package, the vendor's statement on each vulnerability. A "fixed" statement affects installed
versions older than its fix; any other ("affected", "will_not_fix", "fix_deferred", "end_of_life",
"under_investigation") affects every installed version, with an empty `fixed_by` and that status.

Packages are named as each vendor names them: Ubuntu by source package (compared at the source version),
Wolfi and Chainguard by origin, Red Hat by binary rpm (its older statements by source rpm, marked `by_source`).
A Red Hat statement about a module stream's builds applies only to builds of that stream, and a plain one
only to plain builds (as for the vendor rpm feeds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from crscan.match.findings import ROWS_AT_ONCE, installed_version, make_finding, parsed, unorderable
from crscan.match.interface import Match, Matcher, Unordered
from crscan.match.osv import module_stream
from crscan.model import DISTROS, Distro, Package
from crscan.vulndb import FeedDB, namespaces
from crscan.vulndb.records import VendorStatus


def _modular(version: str) -> bool:
    release = version.rpartition("-")[2]
    return ".module+" in release or ".module_" in release


class VendorStatusMatcher(Matcher):
    """One vendor status feed: `feed` rows for the distros `distro_ids`, the release named by `release_of` (""
    for a rolling distribution, None when the release cannot be told)."""

    def __init__(self, feed: str, distro_ids: tuple[str, ...], release_of: Callable[[Distro], str | None],
                 link: Callable[[str, VendorStatus], str]) -> None:
        self.feed = feed
        self.distro_ids = distro_ids
        self.release_of = release_of
        self.link = link

    def namespaces(self, distro: Distro) -> tuple[str, ...]:
        release = self.release_of(distro) if distro.id in self.distro_ids else None
        return (namespaces.vendor_status(self.feed, release),) if release is not None else ()

    def match(self, packages: Sequence[Package], distro: Distro | None, db: FeedDB) -> Iterator[Match | Unordered]:
        if distro is None or not (found := self.namespaces(distro)):
            return
        ecosystem = DISTROS[distro.id].ecosystem
        ours = [p for p in packages if p.ecosystem is ecosystem]
        for start in range(0, len(ours), ROWS_AT_ONCE):
            yield from self._match_chunk(ours[start:start + ROWS_AT_ONCE], distro, db, found[0])

    def _match_chunk(self, ours: Sequence[Package], distro: Distro, db: FeedDB,
                     namespace: str) -> Iterator[Match | Unordered]:
        facts = DISTROS[distro.id]
        scheme = facts.ecosystem.facts.scheme
        by_binary = facts.by_binary

        def keys(package: Package) -> tuple[tuple[str, bool], ...]:
            """(row key, whether rows under it must name a source package)."""
            if not by_binary:
                return ((package.source_name or package.name, False),)
            return ((package.name, False), (package.source_name, True)) if package.source_name else \
                ((package.name, False),)

        rows = db.advisories_for(namespace, {key for p in ours for key, _ in keys(p)})
        for package in ours:
            version = package.version if by_binary else installed_version(package)
            installed = parsed(scheme, version)
            unordered_warned = False
            for key, by_source in keys(package):
                for advisory in rows.get(key, ()):
                    record: VendorStatus = advisory.record  # type: ignore[assignment]
                    if record.by_source != by_source or not self._same_build(package, record):
                        continue
                    fixed_by = ""
                    if record.status == "fixed":
                        fixed = parsed(scheme, record.fixed_version)
                        if fixed is None:
                            yield Unordered(package, scheme, self.feed, unorderable(scheme, record.fixed_version),
                                            advisory.advisory_id)
                            continue
                        if installed is None:
                            if not unordered_warned:
                                unordered_warned = True
                                yield Unordered(package, scheme, self.feed, unorderable(scheme, version))
                            continue
                        if not installed < fixed:
                            continue
                        fixed_by = record.fixed_version
                    finding = make_finding(
                        package, distro, name=record.name, advisory_id=advisory.advisory_id,
                        link=self.link(advisory.advisory_id, record), fixed_by=fixed_by, status=record.status,
                        severity=record.severity, severity_source=record.severity_source, feed=self.feed,
                    )
                    yield Match(package, finding, tuple(dict.fromkeys((record.name, advisory.advisory_id))))

    @staticmethod
    def _same_build(package: Package, record: VendorStatus) -> bool:
        """A module stream's statement applies to that stream's builds only; a plain one to plain builds."""
        if package.ecosystem.facts.scheme != "rpm":
            return True
        if bool(record.module) != _modular(package.version):
            return False
        stream = module_stream(package) if record.module else ""
        return not stream or stream == record.module


def _ubuntu_release(distro: Distro) -> str | None:
    return DISTROS["ubuntu"].osv_release.of(distro.version_id) or None


def _major(distro: Distro) -> str | None:
    head = distro.version_id.split(".")[0]
    return head if head.isdigit() else None


def _rolling(distro: Distro) -> str:
    return ""


def _redhat_link(advisory_id: str, record: VendorStatus) -> str:
    if advisory_id.startswith("RHSA-"):
        return f"https://access.redhat.com/errata/{advisory_id}"
    return f"https://access.redhat.com/security/cve/{record.name}"


def vendor_status_matchers() -> tuple[VendorStatusMatcher, ...]:
    return (
        VendorStatusMatcher("ubuntu", ("ubuntu",), _ubuntu_release,
                            lambda advisory_id, record: f"https://ubuntu.com/security/{record.name}"),
        # Red Hat's statements are about RHEL (UBI is RHEL) and, as its OSV records are, CentOS Linux; AlmaLinux,
        # Rocky Linux and CentOS Stream rebuild or precede RHEL but are not Red Hat's releases: not read for them.
        VendorStatusMatcher("redhat", ("rhel", "centos"), _major, _redhat_link),
        VendorStatusMatcher("wolfi-advisories", ("wolfi",), _rolling,
                            lambda advisory_id, record: f"https://images.chainguard.dev/security/{advisory_id}"),
        VendorStatusMatcher("chainguard-advisories", ("chainguard",), _rolling,
                            lambda advisory_id, record: f"https://images.chainguard.dev/security/{advisory_id}"),
    )
