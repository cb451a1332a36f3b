"""Debian tracker matching: each status on the fixture, and the changelog-derived feed on real dpkg status files."""

from __future__ import annotations

import subprocess

import pytest

from crscan.catalog.dpkg.parse_status import parse_status
from crscan.match import match
from crscan.match.debian import DebianMatcher
from crscan.model import Distro, Ecosystem, LayerRef, Package, Severity
from crscan.vulndb import namespaces

BOOKWORM = Distro("debian", "12", "bookworm")
BULLSEYE = Distro("debian", "11", "bullseye")


def _dpkg(name, version, source="", source_version=""):
    return Package(Ecosystem.DPKG, name, version, source_name=source or name,
                   source_version=source_version or version, path="/var/lib/dpkg/status",
                   layer=LayerRef("sha256:11", "sha256:22"))


def _found(db, packages, distro):
    return {(m.finding.package, m.finding.advisory_id): m.finding for m in DebianMatcher().match(packages, distro, db)}


def test_resolved_is_vulnerable_only_below_the_fixed_version(fixture_db):
    found = _found(fixture_db, [_dpkg("libssl3", "3.0.7-1", "openssl")], BOOKWORM)
    finding = found[("libssl3", "CVE-2023-0286")]
    assert (finding.fixed_by, finding.version, finding.source, finding.origin, finding.type) == (
        "3.0.8-1", "3.0.7-1", "dpkg", "os", "debian")
    assert finding.link == "https://security-tracker.debian.org/tracker/CVE-2023-0286"
    assert (finding.layer, finding.path, finding.feed) == (LayerRef("sha256:11", "sha256:22"), "/var/lib/dpkg/status",
                                                         "debian")
    assert _found(fixture_db, [_dpkg("libssl3", "3.0.8-1", "openssl")], BOOKWORM) == {}
    assert _found(fixture_db, [_dpkg("libssl1.1", "1.1.1n-0+deb11u3", "openssl")], BULLSEYE).keys() == {
        ("libssl1.1", "CVE-2023-0286")}


def test_source_version_decides_not_the_binnmu_binary_version(fixture_db):
    binnmu = _dpkg("libc6", "2.36-9+deb12u3+b1", "glibc", "2.36-9+deb12u2")
    assert ("libc6", "CVE-2023-4911") in _found(fixture_db, [binnmu], BOOKWORM)


def test_open_means_unfixed_at_any_version(fixture_db):
    found = _found(fixture_db, [_dpkg("libc6", "2.31-13+deb11u14", "glibc")], BULLSEYE)
    assert set(found) == {("libc6", "CVE-2019-1010022")}
    unfixed = found[("libc6", "CVE-2019-1010022")]
    assert (unfixed.fixed_by, unfixed.severity, unfixed.severity_source) == ("", Severity.NEGLIGIBLE, "debian")
    assert ("libc6", "CVE-2023-4911") in _found(fixture_db, [_dpkg("libc6", "2.31-13+deb11u6", "glibc")], BULLSEYE)


def test_undetermined_has_undefined_severity_nodsa_is_still_reported_and_fix_zero_is_not_affected(fixture_db):
    found = _found(fixture_db, [_dpkg("crscan-fixture", "1.0-1")], BOOKWORM)
    # TEMP-0000003-NOT-AFFECTED (resolved, fixed version 0) is absent.
    assert set(found) == {("crscan-fixture", "TEMP-0000001-UNDETERMINED"), ("crscan-fixture", "TEMP-0000002-NODSA")}
    assert found[("crscan-fixture", "TEMP-0000001-UNDETERMINED")].severity is Severity.UNDEFINED
    assert (found[("crscan-fixture", "TEMP-0000002-NODSA")].severity, found[("crscan-fixture", "TEMP-0000002-NODSA")]
            .fixed_by) == (Severity.LOW, "")
    (nodsa,) = [a for a in fixture_db.advisories(namespaces.debian("bookworm"), "crscan-fixture")
                if a.advisory_id == "TEMP-0000002-NODSA"]
    assert nodsa.record.nodsa is True


def test_codename_from_version_id_and_other_distros_ignored(fixture_db):
    package = _dpkg("libssl3", "3.0.7-1", "openssl")
    assert _found(fixture_db, [package], Distro("debian", "12")).keys() == {("libssl3", "CVE-2023-0286")}
    assert _found(fixture_db, [package], Distro("ubuntu", "22.04", "jammy")) == {}
    assert _found(fixture_db, [package], None) == {}


def test_one_finding_per_vulnerability_across_the_tracker_and_osv(fixture_db):
    """CVE-2023-4911 is in the tracker (no urgency) and in OSV's Debian:12 (CVSS 7.8): one finding, the
    tracker's, rated from OSV's vector because the distribution gave no rating."""
    findings = match([_dpkg("libc6", "2.36-9+deb12u2", "glibc")], BOOKWORM, fixture_db)
    assert [(f.name, f.advisory_id, f.feed, f.fixed_by, f.severity, f.severity_source) for f in findings] == [
        ("CVE-2019-1010022", "CVE-2019-1010022", "debian", "", Severity.NEGLIGIBLE, "debian"),
        ("CVE-2023-4911", "CVE-2023-4911", "debian", "2.36-9+deb12u3", Severity.HIGH, "cvss_v3"),
    ]


def _status_packages(shared_data, release):
    path = shared_data / "feeds" / "debian" / "dpkg-status" / release
    distro = BOOKWORM if release == "bookworm" else BULLSEYE
    return parse_status(path.read_bytes(), "/var/lib/dpkg/status", distro), distro


@pytest.mark.parametrize("release", ["bookworm", "bullseye"])
def test_fully_updated_images_have_no_findings(shared_db, shared_data, release):
    packages, distro = _status_packages(shared_data, release)
    assert len(packages) > 150
    assert match(packages, distro, shared_db) == []


def _dpkg_lt(pairs):
    """`dpkg --compare-versions a lt b` for each pair: the real dpkg as the oracle."""
    script = 'while read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo 1; else echo 0; fi; done'
    out = subprocess.run(["bash", "-c", script], input="".join(f"{a} {b}\n" for a, b in pairs),
                         capture_output=True, text=True, check=True).stdout.split()
    return [flag == "1" for flag in out]


@pytest.mark.parametrize("release", ["bookworm", "bullseye"])
def test_versions_lowered_below_a_fix_are_found(shared_db, shared_data, release):
    """Each package is lowered to just below one of its source's fixed versions ("X~" sorts before "X");
    the findings must be exactly the entries real dpkg says are fixed above the lowered version."""
    packages, distro = _status_packages(shared_data, release)
    fixes_of = {}
    for advisory in shared_db.iter_advisories(namespaces.debian(release)):
        if advisory.record.fixed_version not in ("", "0"):
            fixes_of.setdefault(advisory.package, []).append(advisory)
    lowered, pairs = [], []
    for package in packages:
        fixes = fixes_of.get(package.source_name, [])
        if fixes:
            below = fixes[len(fixes) // 2].record.fixed_version + "~"
            lowered.append(_dpkg(package.name, below, package.source_name))
            pairs += [((package.name, a.advisory_id), (below, a.record.fixed_version)) for a in fixes]
    assert len(lowered) > 50
    distinct = sorted({versions for _, versions in pairs})  # binaries of one source share their pairs
    older = {versions for versions, lt in zip(distinct, _dpkg_lt(distinct), strict=True) if lt}
    expected = {key for key, versions in pairs if versions in older}
    assert len(expected) >= len(lowered)  # at least the entry each package was lowered below
    assert {(f.package, f.advisory_id) for f in match(lowered, distro, shared_db)} == expected
