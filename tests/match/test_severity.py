"""Severity precedence and one finding per vulnerability, on real records: the shared mirror's OSV, Debian,
Alpine and NVD records (tests/match/testdata/README.md names the few written in upstream format)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from crscan.match import match, merge
from crscan.match.findings import make_finding
from crscan.match.interface import Match
from crscan.match.severity import lowest_fix
from crscan.model import Distro, Ecosystem, Package, Severity
from crscan.vulndb import FeedDB, Location, build
from crscan.vulndb.debian import DebianUpdater
from crscan.vulndb.nvd import NvdUpdater
from crscan.vulndb.osv import OsvUpdater
from crscan.vulndb.severity import VENDOR_WORDS, from_osv

TESTDATA = Path(__file__).parent / "testdata"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "severity.md"
BOOKWORM = Distro("debian", "12", "bookworm")


def _one(findings, name):
    (found,) = [f for f in findings if f.name == name]
    return found


@pytest.mark.parametrize(("package", "cve", "expected"), [
    # PYSEC record without a rating: NVD's own CVSS v3.0, not the CNA's v3.1 beside it.
    (Package(Ecosystem.PYPI, "Django", "1.11.20"), "CVE-2019-14232",
     (Severity.HIGH, "nvd", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5)),
    # NVD's MEDIUM over the CNA's HIGH for the same CVSS version.
    (Package(Ecosystem.PYPI, "rsa", "4.0"), "CVE-2020-25658",
     (Severity.MEDIUM, "nvd", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9)),
    # NVD has not scored it: the CNA's score.
    (Package(Ecosystem.PYPI, "black", "23.1.0"), "CVE-2024-21503",
     (Severity.MEDIUM, "cna", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3)),
    # Only a CVSS v2 score.
    (Package(Ecosystem.PYPI, "tweepy", "1.0"), "CVE-2012-5825",
     (Severity.MEDIUM, "nvd", "AV:N/AC:M/Au:N/C:P/I:P/A:N", 5.8)),
    # NVD has the CVE without any metrics yet (Received): nobody rates it.
    (Package(Ecosystem.PYPI, "GitPython", "3.1.0"), "CVE-2023-40267", (Severity.UNDEFINED, "none", "", None)),
])
def test_language_findings_without_an_advisory_rating_take_nvds(shared_db, package, cve, expected):
    finding = _one(match([package], None, shared_db), cve)
    assert (finding.severity, finding.severity_source, finding.cvss_vector, finding.cvss_score) == expected
    assert finding.detail is not None and finding.detail.cve_status


def test_debian_not_yet_assigned_goes_to_nvd_and_alpine_rates_nothing(shared_db):
    # Every shared tracker entry is "not yet assigned": the next source, NVD (here the CNA's score), decides.
    python = Package(Ecosystem.DPKG, "libpython3.11-minimal", "3.11.2-6+deb12u4", source_name="python3.11")
    libxml2 = Package(Ecosystem.DPKG, "libxml2", "2.9.14+dfsg-1.3~deb12u1")
    findings = match([python, libxml2], BOOKWORM, shared_db)
    cpython = _one(findings, "CVE-2024-6923")
    assert (cpython.severity, cpython.severity_source, cpython.cvss_score) == (Severity.MEDIUM, "cna", 5.5)
    assert cpython.link == "https://security-tracker.debian.org/tracker/CVE-2024-6923"
    assert cpython.detail.cwes == ("CWE-94",) and cpython.detail.published == "2024-08-01T14:15:03.647"
    unscored = _one(findings, "CVE-2024-25062")  # NVD: Received, no metrics
    assert (unscored.severity, unscored.severity_source, unscored.detail.cve_status) == (
        Severity.UNDEFINED, "none", "Received")
    alpine = match([Package(Ecosystem.APK, "py-django", "1.11.20-r0", source_name="py-django")],
                   Distro("alpine", "3.7.0"), shared_db)
    django = _one(alpine, "CVE-2019-14234")
    assert (django.feed, django.severity, django.severity_source) == ("alpine", Severity.CRITICAL, "nvd")


def write_severity_mirror(mirror: Path, shared_data: Path) -> list:
    """Real PYSEC-2023-62 (from the shared PyPI zip) with GitHub's twin GHSA-m2qf-hxjv-5gpq, the shared NVD records,
    and Debian tracker entries for the real CVE-2024-6923 in the tracker's format, one per urgency word. Returns
    the updaters of that mirror."""
    target = mirror / "osv" / "PyPI" / "all.zip"
    target.parent.mkdir(parents=True)
    with zipfile.ZipFile(shared_data / "feeds" / "osv" / "PyPI" / "all.zip") as shared, \
            zipfile.ZipFile(target, "w") as archive:
        archive.writestr("PYSEC-2023-62.json", shared.read("PYSEC-2023-62.json"))
        archive.write(TESTDATA / "severity" / "GHSA-m2qf-hxjv-5gpq.json", "GHSA-m2qf-hxjv-5gpq.json")
        rejected = {"id": "TEST-REJECTED-ALIAS", "aliases": ["CVE-2022-0329"], "affected": [
            {"package": {"ecosystem": "PyPI", "name": "loguru"},
             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.5.3"}]}]}]}
        archive.writestr("TEST-REJECTED-ALIAS.json", json.dumps(rejected))
    (mirror / "nvd").symlink_to(shared_data / "feeds" / "nvd")
    (mirror / "debian").mkdir()
    entry = {"status": "resolved", "fixed_version": "3.11.2-6+deb12u5"}
    (mirror / "debian" / "json").write_text(json.dumps({
        f"python3.{minor}": {"CVE-2024-6923": {"releases": {"bookworm": {**entry, "urgency": urgency}}}}
        for minor, urgency in ((11, "low"), (12, "unimportant"), (13, "not yet assigned"), (14, "medium**"))}))
    return [OsvUpdater("PyPI"), DebianUpdater(), NvdUpdater(2022), NvdUpdater(2023), NvdUpdater(2024)]


@pytest.fixture(scope="module")
def severity_db(tmp_path_factory, shared_data) -> FeedDB:
    mirror = tmp_path_factory.mktemp("severity-mirror")
    path = mirror.parent / "severity.db"
    build(write_severity_mirror(mirror, shared_data), path, Location(mirror))
    with FeedDB.open(path) as db:
        yield db


@pytest.mark.parametrize(("source", "expected"), [
    ("python3.11", (Severity.LOW, "debian", "")),  # the distro's word beats NVD's (CNA) MEDIUM
    ("python3.12", (Severity.NEGLIGIBLE, "debian", "")),  # unimportant
    ("python3.13", (Severity.MEDIUM, "cna", "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:L/I:L/A:L")),  # no word: NVD
    ("python3.14", (Severity.MEDIUM, "debian", "")),  # not yet reviewed, still Debian's word
])
def test_debian_urgency_comes_before_nvd(severity_db, source, expected):
    package = Package(Ecosystem.DPKG, "libpython3-stdlib", "3.11.2-6+deb12u4", source_name=source)
    finding = _one(match([package], BOOKWORM, severity_db), "CVE-2024-6923")
    assert (finding.severity, finding.severity_source, finding.cvss_vector) == expected
    assert finding.detail.nvd_cvss_score == 5.5  # NVD's rating stays visible in the detail either way


def test_pysec_and_ghsa_and_nvd_are_one_finding_named_by_the_cve(severity_db):
    flask = Package(Ecosystem.PYPI, "Flask", "2.2.4", path="/app/flask-2.2.4.dist-info/METADATA")
    findings = match([flask], None, severity_db)
    assert len(findings) == 1
    (finding,) = findings
    assert finding.name == "CVE-2023-30861"
    assert finding.aliases == ("GHSA-m2qf-hxjv-5gpq", "PYSEC-2023-62")
    assert finding.link == "https://nvd.nist.gov/vuln/detail/CVE-2023-30861"
    # PYSEC has no rating; GitHub's advisory does and comes before NVD (also HIGH, but by NVD's own score).
    assert (finding.severity, finding.severity_source) == (Severity.HIGH, "ghsa")
    assert (finding.cvss_vector, finding.cvss_score) == ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5)
    assert finding.fixed_by == "2.2.5"
    assert finding.detail.cve_status == "Analyzed" and finding.detail.published.startswith("2023-05-02")


def test_a_rejected_cve_lends_no_rating_and_is_flagged(severity_db):
    (finding,) = match([Package(Ecosystem.PYPI, "loguru", "0.5.0")], None, severity_db)
    assert finding.name == "CVE-2022-0329" and finding.aliases == ("TEST-REJECTED-ALIAS",)
    assert (finding.severity, finding.detail.cve_status) == (Severity.UNDEFINED, "Rejected")


def _match(package: Package, advisory_id: str, aliases: tuple[str, ...], fixed_by: str, severity=Severity.UNDEFINED,
           source="none") -> Match:
    name = next((a for a in (advisory_id, *aliases) if a.startswith("CVE-")), advisory_id)
    finding = make_finding(package, None, name=name, advisory_id=advisory_id, link=f"https://example/{advisory_id}",
                           fixed_by=fixed_by, severity=severity, severity_source=source, feed="osv")
    return Match(package, finding, tuple(dict.fromkeys((advisory_id, name, *aliases))))


def test_records_joined_through_a_third_merge_and_keep_the_lowest_fix():
    rust = Package(Ecosystem.CARGO, "smallvec", "1.6.0")
    findings = merge([
        _match(rust, "RUSTSEC-2021-0003", (), "1.6.1"),
        _match(rust, "GHSA-43w2-9j62-hq99", ("CVE-2021-25900",), "1.10.0", Severity.CRITICAL, "cvss_v3"),
        _match(rust, "OSV-LINK", ("RUSTSEC-2021-0003", "GHSA-43w2-9j62-hq99"), ""),  # joins the two above
    ])
    assert len(findings) == 1
    (finding,) = findings
    assert (finding.name, finding.advisory_id) == ("CVE-2021-25900", "GHSA-43w2-9j62-hq99")
    assert finding.aliases == ("GHSA-43w2-9j62-hq99", "OSV-LINK", "RUSTSEC-2021-0003")
    assert (finding.severity, finding.fixed_by) == (Severity.CRITICAL, "1.6.1")
    # The same records on another installed copy are another finding.
    other = Package(Ecosystem.CARGO, "smallvec", "1.6.0", path="/other")
    assert len(merge([_match(rust, "RUSTSEC-2021-0003", (), "1.6.1"), _match(other, "RUSTSEC-2021-0003", (), "")])) == 2


def test_lowest_fix_orders_by_the_package_scheme():
    deb = Package(Ecosystem.DPKG, "openssl", "3.0.11-1~deb12u1")
    assert lowest_fix(deb, "3.0.13-1~deb12u1", "3.0.11-1~deb12u2") == "3.0.11-1~deb12u2"
    assert lowest_fix(deb, "", "3.0.13-1~deb12u1") == "3.0.13-1~deb12u1"
    pip = Package(Ecosystem.PYPI, "flask", "2.2.4")
    assert lowest_fix(pip, "2.10.0", "2.9.0") == "2.9.0"  # by version, not by text
    assert lowest_fix(deb, "not a version!", "3.0.13-1~deb12u1") == "3.0.13-1~deb12u1"  # unorderable loses


def test_ubuntu_priority_in_osv_is_the_distros_word():
    ubuntu = {"severity": [{"type": "Ubuntu", "score": "negligible"},
                           {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}
    assert from_osv(ubuntu, {}) == (Severity.NEGLIGIBLE, "ubuntu")
    untriaged = {"severity": [{"type": "Ubuntu", "score": "untriaged"}]}
    assert from_osv(untriaged, {}) == (Severity.UNDEFINED, "none")


def test_the_documented_mapping_is_the_code():
    """docs/severity.md's level table names exactly the words VENDOR_WORDS maps, in the same columns."""
    levels = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE"]
    rows = {}
    for line in DOCS.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[0] in ("Debian urgency", "Ubuntu priority",
                                           "Red Hat / SUSE / AlmaLinux / Rocky severity",
                                           "Amazon ALAS / Oracle ELSA severity", "CBL-Mariner OVAL severity"):
            rows[cells[0]] = {word.strip(): Severity[level] for level, cell in zip(levels, cells[1:6], strict=True)
                              for word in re.split(r",\s*", cell) if word.strip() not in ("", "—")}
    assert rows["Debian urgency"] == VENDOR_WORDS["debian"]
    assert rows["Ubuntu priority"] == VENDOR_WORDS["ubuntu"]
    assert rows["Red Hat / SUSE / AlmaLinux / Rocky severity"] == VENDOR_WORDS["redhat"] == VENDOR_WORDS["suse"]
    assert rows["Amazon ALAS / Oracle ELSA severity"] == VENDOR_WORDS["amazon"] == VENDOR_WORDS["oracle"]
    assert rows["CBL-Mariner OVAL severity"] == VENDOR_WORDS["mariner"]
