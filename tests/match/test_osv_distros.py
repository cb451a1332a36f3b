"""OSV's distribution ecosystems (testdata/osv: real records, sources in testdata/README.md) through the DB build
and `match`: each distro release reads its own namespace, with its family's version scheme and package identity."""

from __future__ import annotations

import datetime as dt

import pytest

from crscan.match import match_with_warnings
from crscan.model import Distro, Ecosystem, Package, ScanReport
from crscan.report.filters import FindingFilter

JAMMY = Distro("ubuntu", "22.04", "jammy")
BIONIC = Distro("ubuntu", "18.04", "bionic")


def deb(name, version, source):
    return Package(Ecosystem.DPKG, name, version, source_name=source, source_version=version)


def rpm(name, version, source=""):
    return Package(Ecosystem.RPM, name, version, source_name=source or name, source_version=version)


def found(fixture_db, distro, *packages):
    result = match_with_warnings(packages, distro, fixture_db)
    return {(f.package, f.advisory_id, f.fixed_by) for f in result.findings}, result.warnings


def test_ubuntu_matches_the_source_package_with_fix_and_unfixed(fixture_db):
    findings, warnings = found(fixture_db, JAMMY, deb("libssl3", "3.0.2-0ubuntu1.10", "openssl"),
                               deb("ovmf", "2022.02-3ubuntu0.22.04.1", "edk2"))
    # edk2: Ubuntu lists no fix yet (needed/deferred): reported with fixed_by empty.
    assert findings == {("libssl3", "CVE-2024-0727", "3.0.2-0ubuntu1.14"), ("ovmf", "CVE-2024-0727", "")}
    assert warnings == []
    fixed, _ = found(fixture_db, JAMMY, deb("libssl3", "3.0.2-0ubuntu1.14", "openssl"))
    assert fixed == set()


def test_ignore_unfixed_hides_the_vendor_stated_unfixed(fixture_db):
    packages = (deb("libssl3", "3.0.2-0ubuntu1.10", "openssl"), deb("ovmf", "2022.02-3ubuntu0.22.04.1", "edk2"))
    result = match_with_warnings(packages, JAMMY, fixture_db)
    report = ScanReport("img", "", JAMMY, packages, tuple(result.findings))
    kept = FindingFilter(dt.date(2026, 1, 1), ignore_unfixed=True).apply(report).findings
    assert [(f.package, f.fixed_by) for f in kept] == [("libssl3", "3.0.2-0ubuntu1.14")]


def test_ubuntu_pro_fixes_do_not_apply_to_a_plain_image_and_eol_warns(fixture_db):
    findings, warnings = found(fixture_db, BIONIC, deb("libssl1.1", "1.1.1-1ubuntu2.1~18.04.23", "openssl"))
    assert findings == set()  # only Ubuntu:Pro:18.04 names it: those fixes need a subscription
    assert any("Ubuntu 18.04 reached its end of life on 2023-05-31" in w for w in warnings)
    assert any("the feed DB has no advisories for this release" in w for w in warnings)


@pytest.mark.parametrize("distro", [Distro("almalinux", "9.3"), Distro("rhel", "9.3")])
def test_rpm_families_match_the_binary_name_with_epoch(fixture_db, distro):
    packages = (rpm("openssl-devel", "1:3.0.7-24.el9", "openssl"), rpm("openssl-libs", "1:3.0.7-24.el9", "openssl"),
                rpm("openssl-perl", "1:3.0.7-27.el9", "openssl"), rpm("sudo", "1.9.5p2-10.el9_3"))
    findings, warnings = found(fixture_db, distro, *packages)
    if distro.id == "almalinux":
        assert findings == {("openssl-devel", "ALSA-2024:2447", "1:3.0.7-27.el9")}
    else:  # Red Hat's baseos and appstream repositories are one namespace; `0:` is no epoch
        assert findings == {("openssl-devel", "RHSA-2024:2447", "1:3.0.7-27.el9"),
                            ("openssl-libs", "RHSA-2024:2447", "1:3.0.7-27.el9"),
                            ("sudo", "RHSA-2025:9978", "0:1.9.5p2-10.el9_6.1")}
    assert warnings == []


def test_an_epoch_outranks_the_version(fixture_db):
    # No epoch is epoch 0, below the fix's 1: still affected whatever the version says.
    findings, _ = found(fixture_db, Distro("rhel", "9.3"), rpm("openssl-libs", "3.0.7-28.el9"))
    assert findings == {("openssl-libs", "RHSA-2024:2447", "1:3.0.7-27.el9")}


def test_azure_linux_and_other_releases_do_not_cross(fixture_db):
    zlib = rpm("zlib", "1.2.13-2.azl3")
    assert found(fixture_db, Distro("azurelinux", "3.0"), zlib)[0] == {("zlib", "AZL-35400", "1.3.1-1")}
    findings, warnings = found(fixture_db, Distro("rhel", "8.9"), rpm("openssl-libs", "1:1.1.1k-9.el8"))
    assert findings == set() and any("no advisories for this release" in w for w in warnings)


def test_detected_os_without_feed_is_a_warning_not_a_silent_zero(fixture_db):
    _, warnings = found(fixture_db, Distro("photon", "5.0"), rpm("openssl", "3.0.9-1.ph5"))
    assert warnings == ["OS Photon OS 5.0: the feed DB has no advisories for this release, so its 1 rpm packages "
                        "were not checked"]
    _, warnings = found(fixture_db, Distro("wolfi", "20230201"))
    assert warnings == ["OS Wolfi 20230201: no apk package database was found or could be read, so no OS package "
                        "was checked"]
    _, warnings = found(fixture_db, Distro("plan9", "4"), rpm("x", "1-1"))
    assert warnings == ["OS plan9 4 is not supported: its packages were not checked for vulnerabilities"]


def nodejs(version: str, label: str = "") -> Package:
    purl = "pkg:rpm/rhel/nodejs@" + version.split(":", 1)[1] + "?arch=x86_64&epoch=1&distro=rhel-9.6"
    return Package(Ecosystem.RPM, "nodejs", version, purl=purl + (f"&rpmmod={label}" if label else ""),
                   source_name="nodejs", source_version=version)


def test_red_hat_module_packages_match_only_advisories_of_their_stream(fixture_db):
    rhel = Distro("rhel", "9.6")
    stream_22 = nodejs("1:22.20.0-1.module+el9.7.0+23456+0a1b2c3d", "nodejs:22:9070020250801000000:rhel9")
    stream_20 = nodejs("1:20.19.5-1.module+el9.6.0+23000+4e5f6a7b", "nodejs:20:9060020250501000000:rhel9")
    plain = nodejs("1:16.20.2-8.el9_4")  # RHEL 9's non-modular nodejs: another build line
    findings, _ = found(fixture_db, rhel, stream_22, stream_20, plain)
    assert findings == {("nodejs", "RHSA-2026:76750", "1:22.23.2-2.module+el9.8.0+24958+80b2ac6e")}
    (finding,) = match_with_warnings([stream_22], rhel, fixture_db).findings
    assert finding.version == stream_22.version
