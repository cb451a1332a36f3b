"""CISA KEV and FIRST EPSS: parsed exactly from their upstream formats, stored as per-CVE enrichment."""

from __future__ import annotations

import gzip
import io
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from crscan.vulndb import FeedDB, namespaces
from crscan.vulndb.build import build
from crscan.vulndb.enrichment import cve_facts
from crscan.vulndb.epss import EpssUpdater, parse_scores
from crscan.vulndb.fetch import Location
from crscan.vulndb.interface import FeedError, Tally
from crscan.vulndb.kev import KevUpdater, parse_catalog
from crscan.vulndb.records import EpssRecord, KevRecord

TESTDATA = Path(__file__).parent / "testdata"
KEV_FIXTURE = TESTDATA / "kev" / "known_exploited_vulnerabilities.json"
EPSS_FIXTURE = TESTDATA / "epss" / "epss_scores-current.csv"


def risk_mirror(root: Path) -> Path:
    """A mirror with the KEV fixture and the EPSS fixture gzipped as FIRST publishes it."""
    (root / "kev").mkdir(parents=True)
    shutil.copy(KEV_FIXTURE, root / "kev" / "known_exploited_vulnerabilities.json")
    (root / "epss").mkdir()
    (root / "epss" / "epss_scores-current.csv.gz").write_bytes(gzip.compress(EPSS_FIXTURE.read_bytes()))
    return root


def test_shared_kev_catalog_and_fixture_follow_cisas_schema(shared_data):
    schema = json.loads((shared_data / "feeds" / "kev" / "schema.json").read_text())
    for path in (shared_data / "feeds" / "kev" / "known_exploited_vulnerabilities.json", KEV_FIXTURE):
        jsonschema.validate(json.loads(path.read_text()), schema)


def test_shared_kev_catalog_parsed_exactly(shared_data):
    tally = Tally()
    with (shared_data / "feeds" / "kev" / "known_exploited_vulnerabilities.json").open("rb") as reader:
        rows = list(parse_catalog(reader, tally))
    assert (tally.records, tally.skipped, len(rows)) == (1404, 0, 1404)
    first = rows[0]
    assert (first.feed, first.namespace, first.package, first.advisory_id) == (
        "kev", namespaces.CVE, "CVE-2025-48384", "CVE-2025-48384")
    assert first.record == KevRecord(
        "2025-08-25", "2025-09-15", "Git", "Git", "Git Link Following Vulnerability",
        "Apply mitigations per vendor instructions, follow applicable BOD 22-01 guidance for cloud services, or "
        "discontinue use of the product if mitigations are unavailable.", "Unknown")
    assert KevRecord.from_columns(*first.record.columns()) == first.record


def test_kev_entry_without_a_due_date_is_skipped_and_counted():
    catalog = {"vulnerabilities": [{"cveID": "CVE-2024-8068", "dateAdded": "2025-08-25"},
                                   {"cveID": "CVE-2024-8069", "dateAdded": "2025-08-25", "dueDate": "2025-09-15"}]}
    tally = Tally()
    rows = list(parse_catalog(io.BytesIO(json.dumps(catalog).encode()), tally))
    assert [r.package for r in rows] == ["CVE-2024-8069"]
    assert (tally.records, tally.skipped) == (2, 1)
    with pytest.raises(FeedError, match="not a KEV catalog"):
        list(parse_catalog(io.BytesIO(b'{"count": 0}'), Tally()))


@pytest.mark.parametrize("compress", [gzip.compress, bytes])
def test_epss_fixture_parsed_exactly(compress):
    tally = Tally()
    rows = list(parse_scores(io.BytesIO(compress(EPSS_FIXTURE.read_bytes())), tally))
    assert (tally.records, tally.skipped) == (7, 0)
    assert [(r.feed, r.namespace, r.package) for r in rows][:2] == [
        ("epss", "cve", "CVE-2018-16487"), ("epss", "cve", "CVE-2019-11324")]
    assert rows[1].record == EpssRecord(0.9, 0.998, "v2025.03.14", "2025-08-25T12:55:00Z")
    assert {r.package: r.record.score for r in rows if isinstance(r.record, EpssRecord)} == {
        "CVE-2018-16487": 0.4, "CVE-2019-11324": 0.9, "CVE-2021-31542": 0.6, "CVE-2021-33503": 0.02,
        "CVE-2021-44420": 0.3, "CVE-2022-28346": 0.5, "CVE-2025-48384": 0.1}


def test_epss_bad_lines_are_counted_and_a_bad_header_is_an_error():
    text = "#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\n" \
           "CVE-2024-1,0.1,0.2\nCVE-2024-0001,high,0.2\nCVE-2024-0002,1.5,0.2\nCVE-2024-0003,0.25,0.5\n"
    tally = Tally()
    rows = list(parse_scores(io.BytesIO(text.encode()), tally))
    assert [r.package for r in rows] == ["CVE-2024-0003"]
    assert (tally.records, tally.skipped) == (4, 3)
    with pytest.raises(FeedError, match="model_version"):
        list(parse_scores(io.BytesIO(b"cve,epss,percentile\nCVE-2024-0003,0.25,0.5\n"), Tally()))
    with pytest.raises(FeedError, match="not an EPSS scores file"):
        list(parse_scores(io.BytesIO(b"\x1f\x8bnot gzip"), Tally()))


def test_kev_and_epss_are_sources_of_the_build_and_join_cve_facts(tmp_path):
    mirror = risk_mirror(tmp_path / "mirror")
    report = build([KevUpdater(), EpssUpdater()], tmp_path / "feeds.db", Location(mirror))
    assert {(s.name, s.records, s.rows) for s in report.sources} == {
        ("kev/known_exploited_vulnerabilities.json", 4, 4), ("epss/epss_scores-current.csv.gz", 7, 7)}
    with FeedDB.open(tmp_path / "feeds.db") as db:
        facts = cve_facts(db, ["CVE-2025-48384", "CVE-2021-31542", "CVE-2000-0001"])
    assert set(facts) == {"CVE-2025-48384", "CVE-2021-31542"}
    assert facts["CVE-2025-48384"].kev is not None and facts["CVE-2025-48384"].kev.due_date == "2025-09-15"
    assert facts["CVE-2025-48384"].epss == EpssRecord(0.1, 0.928, "v2025.03.14", "2025-08-25T12:55:00Z")
    assert facts["CVE-2021-31542"].kev is None and facts["CVE-2021-31542"].nvd is None


def test_findings_take_kev_and_epss_by_their_cve_or_any_cve_alias(tmp_path):
    from crscan.match import Match, merge
    from crscan.model import Ecosystem, EpssScore, Finding, KevFlag, Package, Severity

    build([KevUpdater(), EpssUpdater()], tmp_path / "feeds.db", Location(risk_mirror(tmp_path / "mirror")))
    by_name = Finding("CVE-2022-28346", "GHSA-2gwj-7jmv-h26r", "", "django", "pip", "3.2.0", "3.2.13", "lang",
                      "python", Severity.CRITICAL, "ghsa")
    by_alias = Finding("PYSEC-2019-133", "PYSEC-2019-133", "", "urllib3", "pip", "1.24.1", "1.24.2", "lang",
                       "python", Severity.UNDEFINED, "none", aliases=("CVE-2019-11324", "GHSA-mh33-7rrq-662w"))
    unknown = Finding("GHSA-xxxx-0000-0000", "GHSA-xxxx-0000-0000", "", "lodash", "npm", "4.17.4", "", "lang",
                      "node", Severity.LOW, "ghsa")
    matches = [Match(Package(Ecosystem.PYPI, f.package, f.version), f, (f.advisory_id, f.name, *f.aliases))
               for f in (by_name, by_alias, unknown)]
    with FeedDB.open(tmp_path / "feeds.db") as db:
        merged = {f.package: f for f in merge(matches, db)}
    named, aliased, plain = merged["django"], merged["urllib3"], merged["lodash"]
    assert (named.kev, named.epss) == (KevFlag("2024-01-10", "2024-01-31"),
                                       EpssScore(0.5, 0.981, "2025-08-25T12:55:00Z"))
    assert (aliased.kev, aliased.epss) == (KevFlag("2024-02-01", "2024-02-22"),
                                           EpssScore(0.9, 0.998, "2025-08-25T12:55:00Z"))
    assert aliased.name == "PYSEC-2019-133" and aliased.severity is Severity.UNDEFINED  # KEV/EPSS do not rate
    assert plain == unknown
