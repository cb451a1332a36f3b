"""The vendor rpm feeds (Amazon ALAS updateinfo, Oracle ELSA OVAL, Photon CVE data, CBL-Mariner OVAL): parsing the
upstream formats (fixtures in tests/match/testdata, see its README), compressed as upstream serves them, through a
mirror directory and through upstream's own indirection (Amazon's repository metadata) over local HTTP."""

from __future__ import annotations

import bz2
import gzip
import io
import shutil
import sqlite3
from pathlib import Path

import pytest

from crscan.model import Severity
from crscan.vulndb import FeedDB, FeedError, Location, Tally, update
from crscan.vulndb.amazon import AmazonUpdater, parse_updateinfo
from crscan.vulndb.build import default_updaters
from crscan.vulndb.mariner import MarinerUpdater
from crscan.vulndb.mariner import parse_oval as parse_mariner_oval
from crscan.vulndb.oracle import parse_oval
from crscan.vulndb.photon import parse_cve_data
from crscan.vulndb.records import RpmFix
from tests.vulndb.support import crscan
from tests.vulndb.test_fetch import server  # noqa: F401 - the local HTTP server fixture

TESTDATA = Path(__file__).parents[1] / "match" / "testdata"
AL2023 = TESTDATA / "feeds" / "amazon" / "2023" / "updateinfo.xml"
OVAL = TESTDATA / "oracle" / "com.oracle.elsa-all.xml"
PHOTON4 = TESTDATA / "feeds" / "photon" / "cve_data_photon4.0.json"
MARINER2 = TESTDATA / "feeds" / "mariner" / "cbl-mariner-2.0-oval.xml"


def _rows(parse, path: Path, *, compress=None, **kwargs):
    data = path.read_bytes()
    tally = Tally()
    rows = list(parse(io.BytesIO(compress(data) if compress else data), tally, **kwargs))
    return rows, tally


@pytest.mark.parametrize("compress", [None, gzip.compress])
def test_alas_security_updates_give_a_row_per_package_and_cve_plain_or_gzipped(compress):
    rows, tally = _rows(parse_updateinfo, AL2023, compress=compress, release="2023")
    assert (tally.records, tally.skipped) == (3, 0)  # the bugfix update is read and gives no row
    rsyslog = {(r.advisory_id, r.record.name, r.record.fixed_version, r.record.arch) for r in rows
               if r.package == "rsyslog"}
    # Fixed alike on x86_64 and aarch64: one row for every arch.
    assert rsyslog == {("ALAS2023-2023-001", "CVE-2022-24903", "8.2204.0-3.amzn2023.0.2", ""),
                       ("ALAS2023-2023-001", "CVE-2014-3634", "8.2204.0-3.amzn2023.0.2", "")}
    assert {r.namespace for r in rows} == {"amazon:2023"}
    assert {r.package for r in rows} == {"rsyslog", "rsyslog-logrotate", "rsyslog-doc",
                                         "device-mapper-multipath-libs", "kpartx"}
    assert all((r.record.severity, r.record.severity_source) == (Severity.HIGH, "amazon") for r in rows)


def test_alas_malformed_input_is_a_feed_error_naming_the_source():
    with pytest.raises(FeedError, match="amazon/2023/updateinfo.xml: root element is <html>"):
        list(parse_updateinfo(io.BytesIO(b"<html/>"), Tally(), release="2023", source="amazon/2023/updateinfo.xml"))
    with pytest.raises(FeedError, match="not an updateinfo XML file"):
        list(parse_updateinfo(io.BytesIO(b"<updates><update"), Tally(), release="2023"))


def test_oval_criteria_give_release_arch_module_and_fixed_evr_from_bzip2():
    rows, tally = _rows(parse_oval, OVAL, compress=bz2.compress)
    assert (tally.records, tally.skipped) == (6, 1)
    got = {(r.namespace, r.package, r.advisory_id, r.record.fixed_version, r.record.arch, r.record.module)
           for r in rows if r.record.name in ("CVE-2024-21235", "CVE-2022-24903", "CVE-2007-0493", "CVE-0000-0001")}
    assert got == {
        # One definition, two releases: each branch keyed by its "Oracle Linux N is installed".
        ("oracle:8", "java-11-openjdk", "ELSA-2024-8121", "1:11.0.25.0.9-2.0.1.el8", "", ""),
        ("oracle:8", "java-11-openjdk-headless", "ELSA-2024-8121", "1:11.0.25.0.9-2.0.1.el8", "", ""),
        ("oracle:9", "java-11-openjdk", "ELSA-2024-8121", "1:11.0.25.0.9-2.0.1.el9", "", ""),
        ("oracle:9", "java-11-openjdk-headless", "ELSA-2024-8121", "1:11.0.25.0.9-2.0.1.el9", "", ""),
        # Respun per arch: the arch kept; epoch 0 dropped as rpm reads it.
        ("oracle:7", "rsyslog", "ELSA-2022-4803", "8.24.0-57.0.4.el7_9.3", "aarch64", ""),
        ("oracle:7", "rsyslog", "ELSA-2022-4803", "8.24.0-57.0.1.el7_9.3", "x86_64", ""),
        ("oracle:7", "rsyslog-gnutls", "ELSA-2022-4803", "8.24.0-57.0.4.el7_9.3", "aarch64", ""),
        ("oracle:7", "rsyslog-gnutls", "ELSA-2022-4803", "8.24.0-57.0.1.el7_9.3", "x86_64", ""),
        ("oracle:5", "bind", "ELSA-2007-0057", "30:9.3.3-8.el5", "", ""),
        ("oracle:5", "bind-libs", "ELSA-2007-0057", "30:9.3.3-8.el5", "", ""),
        ("oracle:9", "crscan-fixture", "ELSA-0000-0001", "1.0-2.module+el9.4.0+90000+abcdef12", "", "crscan-fixture:1"),
    }
    ratings = {r.advisory_id: (r.record.severity, r.record.severity_source) for r in rows}
    assert ratings["ELSA-2007-0057"] == (Severity.MEDIUM, "oracle")
    assert ratings["ELSA-2022-4803"] == (Severity.HIGH, "oracle")


def test_oval_that_is_not_oval_is_a_feed_error():
    with pytest.raises(FeedError, match="not <oval_definitions>"):
        list(parse_oval(io.BytesIO(b"<updates/>"), Tally(), source="oracle"))
    with pytest.raises(FeedError, match="not an OVAL definitions XML file"):
        list(parse_oval(io.BytesIO(bz2.compress(b"not xml")), Tally(), source="oracle"))


def test_photon_fixed_entries_give_rows_and_not_affected_or_unresolved_ones_none():
    rows, tally = _rows(parse_cve_data, PHOTON4, release="4.0")
    assert (tally.records, tally.skipped) == (8, 1)
    assert {(r.namespace, r.package, r.advisory_id, r.record.fixed_version, r.record.severity) for r in rows} == {
        ("photon:4.0", "curl", "CVE-2023-38545", "7.88.1-4.ph4", Severity.CRITICAL),
        ("photon:4.0", "curl", "CVE-2023-38546", "7.88.1-4.ph4", Severity.LOW),
        ("photon:4.0", "curl-libs", "CVE-2023-38546", "7.88.1-4.ph4", Severity.LOW),
        ("photon:4.0", "nghttp2", "CVE-2023-44487", "1.57.0-1.ph4", Severity.HIGH),
        ("photon:4.0", "krb5-devel", "BDSA-2025-0719", "1.17-15.ph4", Severity.HIGH),
    }
    with pytest.raises(FeedError, match="not a list"):
        list(parse_cve_data(io.BytesIO(b"{}"), Tally(), release="4.0"))


@pytest.mark.parametrize("compress", [None, gzip.compress])
def test_mariner_oval_resolves_each_definition_to_its_source_rpm_and_fixed_or_last_affected_evr(compress):
    rows, tally = _rows(parse_mariner_oval, MARINER2, compress=compress, release="2.0")
    # Seven definitions read; syslinux's is not patchable: no fix, `less than or equal` its last affected build.
    assert (tally.records, tally.skipped) == (7, 0)
    assert {(r.namespace, r.package, r.advisory_id, r.record.name, r.record.fixed_version, r.record.last_affected,
             r.record.severity) for r in rows} == {
        ("mariner:2.0", "openssl", "CVE-2023-5678", "CVE-2023-5678", "1.1.1k-28.cm2", "", Severity.MEDIUM),
        ("mariner:2.0", "openssl", "CVE-2023-3817", "CVE-2023-3817", "1.1.1k-26.cm2", "", Severity.MEDIUM),
        ("mariner:2.0", "openssl", "CVE-2023-0286", "CVE-2023-0286", "1.1.1k-21.cm2", "", Severity.HIGH),
        ("mariner:2.0", "curl", "CVE-2023-38545", "CVE-2023-38545", "8.3.0-2.cm2", "", Severity.CRITICAL),
        ("mariner:2.0", "curl", "CVE-2023-46219", "CVE-2023-46219", "8.5.0-1.cm2", "", Severity.MEDIUM),
        ("mariner:2.0", "edk2", "CVE-2023-5678", "CVE-2023-5678", "20230301gitf80f052277c8-38.cm2", "",
         Severity.MEDIUM),
        ("mariner:2.0", "syslinux", "CVE-2022-3857", "CVE-2022-3857", "", "6.04-10.cm2", Severity.MEDIUM),
    }
    assert all(r.feed == "mariner" and r.record.severity_source == "mariner" for r in rows)


def test_mariner_definitions_with_broken_references_are_counted_as_skipped():
    oval = (b'<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5"><definitions>'
            b'<definition><metadata><reference source="CVE" ref_id="CVE-2024-1"/><patchable>true</patchable>'
            b'</metadata><criteria><criterion test_ref="t:missing"/></criteria></definition>'
            b'<definition><metadata><patchable>true</patchable></metadata><criteria/></definition>'
            b'</definitions></oval_definitions>')
    tally = Tally()
    assert list(parse_mariner_oval(io.BytesIO(oval), tally, release="2.0")) == []
    assert (tally.records, tally.skipped) == (2, 2)
    not_applicable = MARINER2.read_bytes().replace(b"<patchable>false</patchable>",
                                                   b"<patchable>not applicable</patchable>")
    rows = list(parse_mariner_oval(io.BytesIO(not_applicable), Tally(), release="2.0"))
    assert "syslinux" not in {r.package for r in rows}, "a CVE the vendor says does not apply gives no row"
    with pytest.raises(FeedError, match="mariner/cbl-mariner-2.0-oval.xml: root element is <updates>"):
        list(MarinerUpdater("2.0").parse(io.BytesIO(b"<updates/>"), Tally()))
    with pytest.raises(FeedError, match="not an OVAL definitions XML file"):
        list(parse_mariner_oval(io.BytesIO(b"<oval_definitions><definitions>"), Tally(), release="2.0"))
    with pytest.raises(ValueError, match="mariner release '3.0'"):
        MarinerUpdater("3.0")


def test_mariner_sources_are_each_release_upstream_and_those_a_mirror_holds(tmp_path):
    upstream = [u for u in default_updaters(Location()) if u.feed == "mariner"]
    assert [(u.name, u.upstream_url) for u in upstream] == [
        (f"mariner/cbl-mariner-{r}-oval.xml", "https://raw.githubusercontent.com/microsoft/"
         f"CBL-MarinerVulnerabilityData/main/cbl-mariner-{r}-oval.xml") for r in ("1.0", "2.0")]
    shutil.copytree(TESTDATA / "feeds" / "mariner", tmp_path / "mariner")
    (tmp_path / "mariner" / "cbl-mariner-9.9-oval.xml").write_bytes(b"")  # not a release crscan knows
    assert [u.name for u in default_updaters(Location(tmp_path)) if u.feed == "mariner"] == [
        "mariner/cbl-mariner-2.0-oval.xml"]


def test_db_update_from_a_mirror_counts_each_vendor_source(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(TESTDATA / "feeds", mirror)
    (mirror / "amazon" / "2023" / "updateinfo.xml").unlink()
    (mirror / "amazon" / "2023" / "updateinfo.xml.gz").write_bytes(gzip.compress(AL2023.read_bytes()))
    (mirror / "oracle").mkdir()
    (mirror / "oracle" / "com.oracle.elsa-all.xml.bz2").write_bytes(bz2.compress(OVAL.read_bytes()))
    report = update(tmp_path / "feeds.db", mirror)
    counts = {s.name: (s.records, s.skipped, s.rows) for s in report.sources}
    assert counts["amazon/2023/updateinfo.xml.gz"] == (3, 0, 12)
    assert counts["amazon/2/updateinfo.xml"] == (1, 0, 4)
    assert counts["oracle/com.oracle.elsa-all.xml.bz2"] == (6, 1, 33)
    assert counts["photon/cve_data_photon4.0.json"] == (8, 1, 5)
    assert counts["photon/cve_data_photon1.0.json"] == (2, 0, 2)
    assert counts["photon/cve_data_photon5.0.json"] == (4, 0, 4)
    assert counts["mariner/cbl-mariner-2.0-oval.xml"] == (7, 0, 7)
    with FeedDB.open(report.path) as db:
        (row,) = [a for a in db.advisories("amazon:2", "kernel") if a.record.name == "CVE-2017-5754"]
        assert row.record == RpmFix("CVE-2017-5754", "4.9.76-38.79.amzn2", "", "", Severity.CRITICAL, "amazon")
        (unfixed,) = db.advisories("mariner:2.0", "syslinux")
        assert unfixed.record == RpmFix("CVE-2022-3857", "", "", "", Severity.MEDIUM, "mariner",
                                        last_affected="6.04-10.cm2")


def test_a_db_of_the_previous_schema_is_rebuilt_not_reused_so_unfixed_rows_appear(tmp_path):
    """A DB an older crscan wrote (schema 1: Mariner's rows stated fixes only) must not lend its rows to the
    next update, though the source file is unchanged."""
    mirror = tmp_path / "mirror"
    shutil.copytree(TESTDATA / "feeds" / "mariner", mirror / "mariner")
    path = tmp_path / "feeds.db"
    update(path, mirror)
    with sqlite3.connect(path) as connection:  # as schema 1 left it: no unfixed row
        connection.execute("DELETE FROM advisories WHERE package = 'syslinux'")
        connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    connection.close()
    report = update(path, mirror)
    assert report.rebuilt and report.reused == ()
    with FeedDB.open(path) as db:
        assert [a.record.last_affected for a in db.advisories("mariner:2.0", "syslinux")] == ["6.04-10.cm2"]


def test_amazon_upstream_is_found_through_mirror_list_and_repomd(server, tmp_path):  # noqa: F811
    handler, base = server
    repo = f"{base}/al2023/core/guids/0123abcd/x86_64"
    handler.files.update({
        "/mirror.list": f"{repo}/\n".encode(),
        "/al2023/core/guids/0123abcd/x86_64/repodata/repomd.xml": (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo">'
            b'<data type="primary"><location href="repodata/aa-primary.xml.gz"/></data>'
            b'<data type="updateinfo"><location href="repodata/bb-updateinfo.xml.gz"/></data></repomd>'),
        "/al2023/core/guids/0123abcd/x86_64/repodata/bb-updateinfo.xml.gz": gzip.compress(AL2023.read_bytes()),
    })
    updater = AmazonUpdater("2023")
    updater_cls = type("LocalAmazon", (AmazonUpdater,), {"upstream_url": property(lambda self: f"{base}/mirror.list")})
    local = updater_cls("2023")
    location = Location()
    try:
        fetched = location.fetch(local, tmp_path)
    finally:
        location.close()
    assert fetched is not None and fetched.url == f"{repo}/repodata/bb-updateinfo.xml.gz"
    with fetched.path.open("rb") as reader:
        assert len(list(updater.parse(reader, Tally()))) == 12
    handler.files["/mirror.list"] = b""
    with pytest.raises(FeedError, match="lists no repository"):
        Location().fetch(local, tmp_path)


def test_db_status_lists_each_vendor_source_with_its_counts(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(TESTDATA / "feeds", mirror)
    (mirror / "oracle").mkdir()
    (mirror / "oracle" / "com.oracle.elsa-all.xml.bz2").write_bytes(bz2.compress(OVAL.read_bytes()))
    db = tmp_path / "feeds.db"
    assert crscan("db", "update", "--mirror", str(mirror), "--db", str(db)).returncode == 0
    done = crscan("db", "status", "--db", str(db))
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: tuple(int(n) for n in line.split()[1:4]) for line in done.stdout.splitlines()
            if line.startswith(("amazon/", "oracle/", "photon/", "mariner/"))}
    assert rows == {
        "amazon/2/updateinfo.xml": (1, 0, 4),
        "amazon/2023/updateinfo.xml": (3, 0, 12),
        "oracle/com.oracle.elsa-all.xml.bz2": (6, 1, 33),
        "photon/cve_data_photon1.0.json": (2, 0, 2),
        "photon/cve_data_photon4.0.json": (8, 1, 5),
        "photon/cve_data_photon5.0.json": (4, 0, 4),
        "mariner/cbl-mariner-2.0-oval.xml": (7, 0, 7),
    }
