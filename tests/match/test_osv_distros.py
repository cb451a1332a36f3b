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
    _, warnings = found(fixture_db, Distro("centos-stream", "9"), rpm("openssl-libs", "1:3.0.7-27.el9"))
    assert warnings == ["OS CentOS Stream 9: the feed DB has no advisories for this release, so its 1 rpm packages "
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


def test_centos_linux_is_matched_by_red_hats_records_of_its_major_release(fixture_db):
    packages = (rpm("openssl-libs", "1:1.0.2k-25.el7_9", "openssl"), rpm("openssl", "1:1.0.2k-26.el7_9"))
    findings, warnings = found(fixture_db, Distro("centos", "7.9.2009"), *packages)
    # RHSA-2023:1335 lists openssl-libs under both ::server and ::client: one finding.
    assert findings == {("openssl-libs", "RHSA-2023:1335", "1:1.0.2k-26.el7_9")}
    assert warnings == ["OS CentOS 7.9.2009 reached its end of life on 2024-06-30: its vendor publishes no more "
                        "fixes, so vulnerabilities found since are not reported"]
    # RHEL 9's records are not CentOS 7's, nor RHEL 7's CentOS 8's.
    assert found(fixture_db, Distro("centos", "8.5.2111"), *packages)[0] == set()


@pytest.mark.parametrize("distro", [Distro("sles", "15.3"), Distro("sled", "15.3"), Distro("sle_hpc", "15.3"),
                                    Distro("sles_sap", "15.3")])
def test_an_sle_image_is_matched_by_records_filed_under_any_sle_product_of_its_release(fixture_db, distro):
    # SUSE-SU-2022:2251-1 files SLE 15 SP3's openssl-1_1 under the Basesystem module, not under the Server.
    packages = (rpm("libopenssl1_1", "1.1.1d-150200.11.47.1", "openssl-1_1"),
                rpm("libopenssl1_1-hmac", "1.1.1d-150200.11.48.1", "openssl-1_1"))
    findings, warnings = found(fixture_db, distro, *packages)
    assert findings == {("libopenssl1_1", "SUSE-SU-2022:2251-1", "1.1.1d-150200.11.48.1")}
    assert warnings == []


def test_sle_releases_and_opensuse_releases_do_not_cross(fixture_db):
    package = rpm("libopenssl1_1", "1.1.1d-150200.11.47.1", "openssl-1_1")
    for distro in (Distro("sles", "15.5"), Distro("sles", "15"), Distro("opensuse-leap", "15.5")):
        assert "SUSE-SU-2022:2251-1" not in {advisory for _, advisory, _ in found(fixture_db, distro, package)[0]}
    # Leap 15.3's own entry of the same advisory.
    assert found(fixture_db, Distro("opensuse-leap", "15.3"), package)[0] == {
        ("libopenssl1_1", "SUSE-SU-2022:2251-1", "1.1.1d-150200.11.48.1")}


def test_opensuse_leap_and_tumbleweed_read_their_own_records(fixture_db):
    leap = rpm("libopenssl1_1", "1.1.1l-150500.17.34.1", "openssl-1_1")
    assert found(fixture_db, Distro("opensuse-leap", "15.5"), leap)[0] == {
        ("libopenssl1_1", "SUSE-SU-2025:0345-1", "1.1.1l-150500.17.40.1")}
    logilab = rpm("python3-logilab-common", "1.2.2-1.1", "python-logilab-common")
    assert found(fixture_db, Distro("opensuse-tumbleweed", "20240801"), logilab)[0] == {
        ("python3-logilab-common", "openSUSE-SU-2024:10400-1", "1.2.2-1.2")}
    assert found(fixture_db, Distro("opensuse-tumbleweed", "20240801"), rpm("python3-logilab-common", "1.2.2-1.2",
                                                                           "python-logilab-common"))[0] == set()


def test_mageia_and_openeuler_records_name_the_source_rpm(fixture_db):
    packages = (rpm("lib64openssl3", "3.0.13-1.mga9", "openssl"),
                rpm("python3-cryptography", "39.0.1-1.1.mga9", "python-cryptography"))
    assert found(fixture_db, Distro("mageia", "9"), *packages)[0] == {
        ("lib64openssl3", "MGASA-2025-0069", "3.0.15-1.3.mga9")}
    libs = rpm("openssl-libs", "1.1.1m-15.oe2203", "openssl")
    assert found(fixture_db, Distro("openeuler", "22.03-LTS"), libs)[0] == {
        ("openssl-libs", "OESA-2023-1092", "1.1.1m-18.oe2203")}
    # 22.03 LTS SP1 is a release of its own: the 22.03 LTS entry does not apply, and the DB has none for it.
    findings, warnings = found(fixture_db, Distro("openeuler", "22.03-LTS-SP1"), libs)
    assert findings == set() and any("no advisories for this release" in w for w in warnings)
