"""Amazon, Oracle, Photon and CBL-Mariner matching on the fixture feeds (testdata/, see its README): findings equal an
oracle computed from the fixture with rpm's own vercmp, never with crscan's version code."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from crscan.match import match, match_with_warnings
from crscan.model import Distro, Ecosystem, LayerRef, Package, Severity
from tests.match.conftest import TESTDATA
from tests.support.rpmvercmp import rpm_vercmp

AL2023 = Distro("amzn", "2023", pretty_name="Amazon Linux 2023")
OL9 = Distro("ol", "9.3")
OL8 = Distro("ol", "8.10")
OL7 = Distro("ol", "7.9")
PHOTON4 = Distro("photon", "4.0")
MARINER2 = Distro("mariner", "2.0")


def _rpm(name, version, arch="x86_64"):
    return Package(Ecosystem.RPM, name, version, arch=arch, source_name=name, source_version=version,
                   path="/var/lib/rpm/rpmdb.sqlite", layer=LayerRef("sha256:55", "sha256:66"))


def _expected(package, fixes):
    """(cve, fixed) of each fix rpm orders above the installed version: the oracle."""
    verdicts = rpm_vercmp((package.version, fixed) for _, fixed in fixes)
    return {(cve, fixed) for (cve, fixed), verdict in zip(fixes, verdicts, strict=True) if verdict < 0}


def _alas_fixes(package_name, release="2023"):
    root = ET.fromstring((TESTDATA / "feeds" / "amazon" / release / "updateinfo.xml").read_bytes())
    fixes = set()
    for update in root.iter("update"):
        if update.get("type") != "security":
            continue
        cves = [r.get("id") for r in update.iter("reference") if r.get("type") == "cve"]
        for p in update.iter("package"):
            if p.get("name") == package_name:
                epoch = p.get("epoch")
                evr = f"{p.get('version')}-{p.get('release')}"
                fixes |= {(cve, evr if epoch == "0" else f"{epoch}:{evr}") for cve in cves}
    return sorted(fixes)


@pytest.mark.parametrize("name, version", [
    ("rsyslog", "8.2204.0-2.amzn2023.0.1"),
    ("rsyslog", "8.2204.0-3.amzn2023.0.1"),
    ("rsyslog", "8.2204.0-3.amzn2023.0.2"),
    ("rsyslog", "8.2204.0-3.amzn2023.0.2~1"),  # '~' sorts before the end: older than the fix
    ("rsyslog", "8.2204.0-3.amzn2023.0.2^1"),  # '^' after it: newer
    ("rsyslog", "8.2204.0-10.amzn2023"),
    ("rsyslog", "1:8.2100.0-1.amzn2023"),  # an epoch outweighs any version
    ("kpartx", "0.8.7-16.amzn2023"),
    ("kpartx", "0.8.7-16.amzn2023.0.1"),
])
def test_amazon_findings_equal_rpm_vercmp_against_every_alas_fix(fixture_db, name, version):
    package = _rpm(name, version)
    findings = match([package], AL2023, fixture_db)
    assert {(f.name, f.fixed_by) for f in findings} == _expected(package, _alas_fixes(name))
    assert all(f.feed == "amazon" and f.type == "amzn" and f.origin == "os" for f in findings)


def test_amazon_finding_carries_advisory_link_rating_and_where_it_was_found(fixture_db):
    findings = match([_rpm("kpartx", "0.8.7-15.amzn2023.0.3")], AL2023, fixture_db)
    assert {f.name for f in findings} == {"CVE-2022-3787", "CVE-2022-41973", "CVE-2022-41974"}
    finding = findings[0]
    assert (finding.advisory_id, finding.link) == (
        "ALAS2023-2023-126", "https://alas.aws.amazon.com/AL2023/ALAS-2023-126.html")
    assert (finding.severity, finding.severity_source) == (Severity.HIGH, "amazon")
    assert (finding.package, finding.source, finding.version, finding.path) == (
        "kpartx", "rpm", "0.8.7-15.amzn2023.0.3", "/var/lib/rpm/rpmdb.sqlite")


def test_amazon_releases_are_apart(fixture_db):
    kernel = _rpm("kernel", "4.9.62-10.57.amzn2")
    assert {f.name for f in match([kernel], Distro("amzn", "2"), fixture_db)} == {"CVE-2017-5715", "CVE-2017-5754"}
    assert match([kernel], AL2023, fixture_db) == []
    assert match([_rpm("rsyslog", "8.0-1.amzn2")], Distro("amzn", "2"), fixture_db) == []


def _oval_fixes(release, package_name, arch):
    """(cve, evr) per the OVAL fixture's criteria comments for this release and arch (Ksplice included)."""
    text = (TESTDATA / "oracle" / "com.oracle.elsa-all.xml").read_text()
    found = set()
    ns = "{http://oval.mitre.org/XMLSchema/oval-definitions-5}"
    for definition in ET.fromstring(text).iter(f"{ns}definition"):
        cves = [r.get("ref_id") for r in definition.iter(f"{ns}reference") if r.get("source") == "CVE"]

        def walk(node, rel, ar, cves=cves):
            comments = [c.get("comment", "") for c in node if c.tag == f"{ns}criterion"]
            for comment in comments:
                if comment.startswith("Oracle Linux ") and comment.endswith(" is installed"):
                    rel = comment.split()[2]
                elif comment.startswith("Oracle Linux arch is "):
                    ar = comment.rsplit(" ", 1)[1]
            for comment in comments:
                head, sep, evr = comment.partition(" is earlier than ")
                if sep and head == package_name and rel == release and ar in ("", arch):
                    found.update((cve, evr.removeprefix("0:")) for cve in cves)
            for child in node:
                if child.tag == f"{ns}criteria":
                    walk(child, rel, ar, cves)
        for top in definition.iter(f"{ns}criteria"):
            walk(top, "", "")
            break
    return sorted(found)


@pytest.mark.parametrize("distro, name, version, arch", [
    (OL9, "java-11-openjdk-headless", "1:11.0.24.0.8-3.0.1.el9", "x86_64"),
    (OL9, "java-11-openjdk-headless", "1:11.0.25.0.9-2.0.1.el9", "x86_64"),
    (OL9, "java-11-openjdk-headless", "1:11.0.25.0.9-2.el9", "aarch64"),  # Red Hat's build, older than Oracle's .0.1
    (OL9, "java-11-openjdk", "11.0.99-1.el9", "x86_64"),  # no epoch: 0 < 1
    (OL8, "java-11-openjdk", "1:11.0.25.0.9-2.0.1.el8_10", "x86_64"),  # el8_10 > el8
    (OL7, "rsyslog", "8.24.0-57.0.2.el7_9.3", "x86_64"),  # past x86_64's fix
    (OL7, "rsyslog", "8.24.0-57.0.2.el7_9.3", "aarch64"),  # not past aarch64's
    (OL7, "rsyslog-gnutls", "8.24.0-57.el7_9.2", "x86_64"),
])
def test_oracle_findings_equal_rpm_vercmp_against_the_fixes_for_release_and_arch(
        fixture_db, distro, name, version, arch):
    package = _rpm(name, version, arch)
    findings = match([package], distro, fixture_db)
    release = distro.version_id.split(".")[0]
    assert {(f.name, f.fixed_by) for f in findings} == _expected(package, _oval_fixes(release, name, arch))
    assert all(f.link.startswith("https://linux.oracle.com/errata/ELSA-") for f in findings)


def test_oracle_ksplice_and_fips_builds_compare_only_with_their_kind(fixture_db):
    # ELSA-2021-9151 fixes only the Ksplice build: a regular build of any version is not compared with it.
    assert match([_rpm("openssl-libs", "1:1.1.1g-14.el8_3")], OL8, fixture_db) == []
    ksplice = match([_rpm("openssl-libs", "2:1.1.1g-14.ksplice1.el8_3")], OL8, fixture_db)
    assert {(f.name, f.fixed_by) for f in ksplice} == {("CVE-2021-3449", "2:1.1.1g-15.ksplice1.el8_3"),
                                                       ("CVE-2021-3450", "2:1.1.1g-15.ksplice1.el8_3")}
    assert match([_rpm("java-11-openjdk", "1:11.0.24-1.el9_fips")], OL9, fixture_db) == []


def test_oracle_module_stream_fixes_apply_to_modular_builds_only(fixture_db):
    modular = _rpm("crscan-fixture", "1.0-1.module+el9.4.0+80000+12345678")
    assert [(f.name, f.fixed_by) for f in match([modular], OL9, fixture_db)] == [
        ("CVE-0000-0001", "1.0-2.module+el9.4.0+90000+abcdef12")]
    assert match([_rpm("crscan-fixture", "0.9-1.el9")], OL9, fixture_db) == []


@pytest.mark.parametrize("version", ["30:9.3.3-7.el5", "9.9.4-1.el5", "30:9.3.3-8.el5", "31:1.0-1.el5"])
def test_oracle_epoch_outweighs_the_version(fixture_db, version):
    package = _rpm("bind", version)
    findings = match([package], Distro("ol", "5.11"), fixture_db)
    assert {(f.name, f.fixed_by) for f in findings} == _expected(package, _oval_fixes("5", "bind", "x86_64"))


def _photon_fixes(package_name):
    entries = json.loads((TESTDATA / "feeds" / "photon" / "cve_data_photon4.0.json").read_text())
    return sorted((e["cve_id"], e["res_ver"]) for e in entries
                  if e.get("pkg") == package_name and e.get("status", "Fixed") == "Fixed" and e["res_ver"] != "NA")


@pytest.mark.parametrize("name, version", [
    ("curl", "7.88.1-3.ph4"), ("curl", "7.88.1-4.ph4"), ("curl-libs", "7.86.0-1.ph4"),
    ("nghttp2", "1.57.0-1.ph4"), ("nghttp2", "1.47.0-2.ph4"), ("httpd", "2.4.57-1.ph4"), ("python3", "3.10.0-1.ph4"),
])
def test_photon_findings_equal_rpm_vercmp_against_its_fixes(fixture_db, name, version):
    package = _rpm(name, version)
    findings = match([package], PHOTON4, fixture_db)
    assert {(f.name, f.fixed_by) for f in findings} == _expected(package, _photon_fixes(name))
    assert all(f.feed == "photon" and f.type == "photon" for f in findings)


def test_photon_score_becomes_the_rating_and_other_releases_are_apart(fixture_db):
    (finding,) = [f for f in match([_rpm("curl", "7.88.1-3.ph4")], PHOTON4, fixture_db) if f.name == "CVE-2023-38545"]
    assert (finding.severity, finding.severity_source) == (Severity.CRITICAL, "cvss_v3")
    assert match([_rpm("curl", "7.88.1-3.ph4")], Distro("photon", "5.0"), fixture_db) == []
    assert {f.name for f in match([_rpm("apache-ant", "1.10.7-1.ph1")], Distro("photon", "1.0"), fixture_db)} == {
        "CVE-2020-11979", "CVE-2020-1945"}


def test_an_installed_version_rpm_cannot_order_is_a_warning_not_a_silent_pass(fixture_db):
    result = match_with_warnings([_rpm("kpartx", "0.8.7 -16")], AL2023, fixture_db)
    assert result.findings == []
    assert len(result.warnings) == 1 and "kpartx" in result.warnings[0] and "amazon" in result.warnings[0]


def test_other_distros_and_non_rpm_packages_are_not_matched(fixture_db):
    assert match([_rpm("kpartx", "0.1-1")], Distro("rhel", "9.3"), fixture_db) == []
    deb = Package(Ecosystem.DPKG, "kpartx", "0.1-1", source_name="kpartx", source_version="0.1-1")
    assert match([deb], AL2023, fixture_db) == []


def mariner_statements(path, source):
    """(CVE, evr, OVAL operation) of the source rpm's definitions that state a fix (patchable, `less than`) or
    the last affected build (`less than or equal`), resolved through test, object and state."""
    ns = {"d": "http://oval.mitre.org/XMLSchema/oval-definitions-5",
          "l": "http://oval.mitre.org/XMLSchema/oval-definitions-5#linux"}
    root = ET.fromstring(path.read_bytes())
    tests = {t.get("id"): t for t in root.iterfind(".//l:rpminfo_test", ns)}
    names = {o.get("id"): o.findtext("l:name", namespaces=ns) for o in root.iterfind(".//l:rpminfo_object", ns)}
    states = {s.get("id"): s.find("l:evr", ns) for s in root.iterfind(".//l:rpminfo_state", ns)}
    statements = set()
    for definition in root.iterfind(".//d:definition", ns):
        test = tests[definition.find(".//d:criterion", ns).get("test_ref")]
        evr = states[test.find("l:state", ns).get("state_ref")]
        patchable = definition.findtext("d:metadata/d:patchable", namespaces=ns)
        operation = evr.get("operation")
        if names[test.find("l:object", ns).get("object_ref")] == source and (
                (patchable == "true" and operation == "less than")
                or (patchable != "not applicable" and operation == "less than or equal")):
            statements.add((definition.find("d:metadata/d:reference", ns).get("ref_id"),
                            evr.text.removeprefix("0:"), operation))
    return sorted(statements)


def mariner_oracle(version, statements):
    """(CVE, fixed_by, status) by rpm's vercmp: older than a fix, or at or below the last affected build."""
    verdicts = rpm_vercmp((version, evr) for _, evr, _ in statements)
    return {(cve, evr, "fixed") if operation == "less than" else (cve, "", "affected")
            for (cve, evr, operation), verdict in zip(statements, verdicts, strict=True)
            if verdict < 0 or (verdict == 0 and operation == "less than or equal")}


MARINER2_OVAL = TESTDATA / "feeds" / "mariner" / "cbl-mariner-2.0-oval.xml"


@pytest.mark.parametrize("name, source, version", [
    ("openssl-libs", "openssl", "1.1.1k-27.cm2"), ("openssl", "openssl", "1.1.1k-28.cm2"),
    ("openssl-libs", "openssl", "1.1.1k-20.cm2"), ("curl-libs", "curl", "8.3.0-1.cm2"),
    ("curl", "curl", "8.4.0-1.cm2"), ("syslinux", "syslinux", "6.04-9.cm2"),
    ("syslinux", "syslinux", "6.04-10.cm2"),  # the last affected build itself
    ("syslinux", "syslinux", "6.04-10.cm2.1"), ("syslinux", "syslinux", "6.04-11.cm2"),  # past it
    ("syslinux", "syslinux", "6.04-10.cm2~rc1"),  # '~' sorts before: still affected
])
def test_mariner_findings_equal_rpm_vercmp_against_the_fixes_of_the_source_rpm(fixture_db, name, source, version):
    package = Package(Ecosystem.RPM, name, version, arch="x86_64", source_name=source, source_version=version)
    findings = match([package], MARINER2, fixture_db)
    assert {(f.name, f.fixed_by, f.status) for f in findings} == mariner_oracle(
        version, mariner_statements(MARINER2_OVAL, source))
    assert all(f.feed == "mariner" and f.type == "mariner" and f.advisory_id == f.name for f in findings)


def test_mariner_not_patchable_definitions_are_unfixed_findings_at_or_below_the_last_affected_build(fixture_db):
    def syslinux(version):
        return Package(Ecosystem.RPM, "syslinux", version, arch="x86_64", source_name="syslinux",
                       source_version=version)

    (finding,) = match([syslinux("6.04-10.cm2")], MARINER2, fixture_db)
    assert (finding.name, finding.fixed_by, finding.status, finding.severity) == (
        "CVE-2022-3857", "", "affected", Severity.MEDIUM)
    assert match([syslinux("6.04-11.cm2")], MARINER2, fixture_db) == []


def test_mariner_release_is_read_from_os_release_or_the_vendor_file_and_others_are_apart(fixture_db):
    package = Package(Ecosystem.RPM, "openssl-libs", "1.1.1k-27.cm2", source_name="openssl",
                      source_version="1.1.1k-27.cm2")
    assert {f.name for f in match([package], Distro("mariner", "2.0.20240123"), fixture_db)} == {"CVE-2023-5678"}
    (finding,) = match([package], MARINER2, fixture_db)
    assert (finding.severity, finding.severity_source) == (Severity.MEDIUM, "mariner")
    assert match([package], Distro("mariner", "1.0"), fixture_db) == []
    assert match([package], Distro("azurelinux", "3.0"), fixture_db) == []
