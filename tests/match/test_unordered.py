"""A version its scheme cannot order is a warning on the package, never a silent "not affected"."""

from __future__ import annotations

from crscan.catalog import Inventory
from crscan.match import match_with_warnings
from crscan.model import Distro, Ecosystem, Package
from crscan.scan.pipeline import Scanner

ALPINE_318 = Distro("alpine", "3.18.4")
BOOKWORM = Distro("debian", "12", "bookworm")


def test_unorderable_npm_version_with_advisories_is_a_warning(fixture_db):
    # TEST-NPM-1 affects semver-pkg from 1.0.0; "1.2" is no SemVer version, so its verdict is unknown.
    findings, warnings = match_with_warnings([Package(Ecosystem.NPM, "semver-pkg", "1.2")], None, fixture_db)
    assert findings == []
    assert warnings == [(
        "npm package semver-pkg 1.2: version cannot be ordered under scheme semver, so its osv advisories were "
        "not checked (invalid semver version '1.2': not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (numbers without "
        "leading zeros))"
    )]


def test_orderable_versions_and_packages_without_advisories_do_not_warn(fixture_db):
    packages = [Package(Ecosystem.NPM, "semver-pkg", "1.2.3-beta.1"), Package(Ecosystem.NPM, "no-such-pkg", "1.2")]
    findings, warnings = match_with_warnings(packages, None, fixture_db)
    assert [f.advisory_id for f in findings] == ["TEST-NPM-1"]
    assert warnings == []


def test_unorderable_os_versions_warn_per_distro_feed(fixture_db):
    apk = Package(Ecosystem.APK, "zlib", "junk", source_name="zlib", source_version="junk")
    _, warnings = match_with_warnings([apk], ALPINE_318, fixture_db)
    assert warnings == [(
        "apk package zlib junk: version cannot be ordered under scheme apk, so its alpine advisories were not "
        "checked (invalid apk version 'junk': does not start with a digit)"
    )]
    # The tracker's unfixed advisories still apply at any version; the resolved ones could not be decided.
    deb = Package(Ecosystem.DPKG, "libssl3", "1:", source_name="openssl", source_version="1:")
    findings, warnings = match_with_warnings([deb], BOOKWORM, fixture_db)
    assert "CVE-2023-0286" not in {f.advisory_id for f in findings}
    assert len(warnings) == 1 and warnings[0].startswith(
        "dpkg package libssl3 1:: version cannot be ordered under scheme deb, so its debian advisories were not "
        "checked")


def test_the_same_package_at_two_paths_warns_once(fixture_db):
    twice = [Package(Ecosystem.NPM, "semver-pkg", "1.2", path=path) for path in ("/a/package.json", "/b/package.json")]
    assert len(match_with_warnings(twice, None, fixture_db).warnings) == 1


def test_scan_report_carries_the_warning_after_the_inventory_ones(fixture_db):
    inventory = Inventory(None, (Package(Ecosystem.NPM, "semver-pkg", "1.2"),), ("catalog warning",))
    report = Scanner().report_for("registry.example/app:1", "sha256:" + "0" * 64, inventory, fixture_db)
    assert report.findings == ()
    assert report.warnings[0] == "catalog warning"
    assert report.warnings[1].startswith("npm package semver-pkg 1.2: version cannot be ordered under scheme semver")


def test_an_advisory_version_that_cannot_be_ordered_is_a_warning(fixture_db):
    # TEST-NPM-UNORDERED's range is fixed at "1.2", no SemVer version: which 1.x releases it affects is unknown.
    package = Package(Ecosystem.NPM, "unordered-pkg", "1.0.0")
    findings, warnings = match_with_warnings([package], None, fixture_db)
    assert findings == []
    assert warnings == [(
        "npm package unordered-pkg 1.0.0: osv advisory TEST-NPM-UNORDERED cannot be ordered under scheme semver, "
        "so it was not checked (invalid semver version '1.2': not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (numbers "
        "without leading zeros))"
    )]


def test_a_distro_fixed_version_that_cannot_be_ordered_is_a_warning(fixture_db):
    # The secdb's "1.18.-r2" (a stray dot, as Alpine v3.5's secdb has it) is no apk version.
    package = Package(Ecosystem.APK, "crscan-typo", "1.18-r1", source_name="crscan-typo", source_version="1.18-r1")
    findings, warnings = match_with_warnings([package], ALPINE_318, fixture_db)
    assert findings == []
    assert warnings == [(
        "apk package crscan-typo 1.18-r1: alpine advisory CVE-0000-0003 cannot be ordered under scheme apk, so it "
        "was not checked (invalid apk version '1.18.-r2': unexpected '.-r2' at offset 4)"
    )]
