"""Matching the vendors' statements (tests/match/testdata/vendor-status, see its README): a fixed statement by
the release's own comparator, any other for every installed version with the vendor's word as the status; Red
Hat's statements for RHEL (and CentOS Linux) only; a module stream's statement for that stream's builds only."""

from __future__ import annotations

import pytest

from crscan.match import match_with_warnings
from crscan.match.vendor_status import VendorStatusMatcher, vendor_status_matchers
from crscan.model import Distro, Ecosystem, Package, Severity
from crscan.vulndb import FeedDB, update
from crscan.vulndb.interface import Advisory
from crscan.vulndb.records import VendorStatus
from tests.match.conftest import TESTDATA

RHEL9 = Distro("rhel", "9.3")
OPENSSL_LIBS = Package(Ecosystem.RPM, "openssl-libs", "1:3.0.7-24.el9", source_name="openssl",
                       source_version="1:3.0.7-24.el9")
UNFIXED_OPENSSL = {("CVE-2024-41996", "", "will_not_fix"), ("CVE-2024-13176", "", "affected"),
                   ("CVE-2026-28387", "", "under_investigation")}


@pytest.fixture(scope="module")
def vendor_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("vendor-status") / "feeds.db"
    update(path, TESTDATA / "vendor-status")
    with FeedDB.open(path) as db:
        yield db


def found(db, distro, *packages):
    result = match_with_warnings(packages, distro, db)
    assert not any("cannot be ordered" in w for w in result.warnings)
    return {(f.package, f.name, f.fixed_by, f.status) for f in result.findings}


def test_ubuntu_deferred_per_release_by_source_package(vendor_db):
    apparmor = Package(Ecosystem.DPKG, "libapparmor1", "2.13.3-7ubuntu5.1", source_name="apparmor",
                       source_version="2.13.3-7ubuntu5.1")
    assert found(vendor_db, Distro("ubuntu", "20.04", "focal"), apparmor) == {
        ("libapparmor1", "CVE-2016-1585", "", "fix_deferred")}
    assert found(vendor_db, Distro("ubuntu", "20.10", "groovy"), apparmor) == {
        ("libapparmor1", "CVE-2016-1585", "", "end_of_life")}
    assert found(vendor_db, Distro("ubuntu", "24.04", "noble"), apparmor) == set()  # the tracker names no noble


def test_redhat_statements_apply_to_rhel_ubi_and_centos_not_to_rebuilds_or_stream(vendor_db):
    expected = {("openssl-libs", "CVE-2024-0727", "1:3.0.7-27.el9", "fixed"),
                *(("openssl-libs", *k) for k in UNFIXED_OPENSSL)}
    assert found(vendor_db, RHEL9, OPENSSL_LIBS) == expected
    # CentOS Linux reads Red Hat's records of its major release (as for Red Hat's OSV errata).
    assert found(vendor_db, Distro("centos", "9"), OPENSSL_LIBS) == expected
    for other in (Distro("almalinux", "9.3"), Distro("rocky", "9.3"), Distro("centos-stream", "9")):
        assert found(vendor_db, other, OPENSSL_LIBS) == set()
    assert found(vendor_db, Distro("rhel", "8.9"), OPENSSL_LIBS) == set()


def test_redhat_source_rpm_statements_cover_every_binary_of_it(vendor_db):
    devel = Package(Ecosystem.RPM, "openssl-devel", "1:3.0.7-27.el9", source_name="openssl",
                    source_version="1:3.0.7-27.el9")
    # At the fixed build: no fixed finding; the source rpm's unfixed statements still name it.
    assert found(vendor_db, RHEL9, devel) == {("openssl-devel", *k) for k in UNFIXED_OPENSSL}


class _Rows:
    """A feed DB of given rows: the module rule is about records no fixture of a module stream holds."""

    def __init__(self, rows):
        self.rows = rows

    def advisories_for(self, namespace, packages):
        wanted = set(packages)
        return {row.package: [r for r in self.rows if r.package == row.package] for row in self.rows
                if row.namespace == namespace and row.package in wanted}


def test_a_module_stream_statement_applies_to_that_streams_builds_only():
    statement = VendorStatus("CVE-2024-22020", "affected", "", Severity.MEDIUM, "redhat", module="nodejs:20")
    db = _Rows([Advisory("redhat", "redhat:9", "nodejs", "CVE-2024-22020", statement)])
    matcher = next(m for m in vendor_status_matchers() if m.feed == "redhat")
    assert isinstance(matcher, VendorStatusMatcher)

    def names(package):
        return {m.finding.status for m in matcher.match([package], RHEL9, db)}  # type: ignore[arg-type]

    build = "1:20.19.5-1.module+el9.6.0+23000+4e5f6a7b"
    assert names(Package(Ecosystem.RPM, "nodejs", build, purl="pkg:rpm/redhat/nodejs@20?rpmmod=nodejs:20:96:x")) \
        == {"affected"}
    assert names(Package(Ecosystem.RPM, "nodejs", build, purl="pkg:rpm/redhat/nodejs@22?rpmmod=nodejs:22:96:x")) \
        == set()
    assert names(Package(Ecosystem.RPM, "nodejs", "1:16.20.2-8.el9_4")) == set()  # a plain build
