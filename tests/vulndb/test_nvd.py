"""NVD CVE records: the shared fkie-cad-layout mirror parsed exactly, and the same records as yearly bundles
served over HTTP (the layout a URL mirror and upstream use)."""

from __future__ import annotations

import functools
import http.server
import io
import json
import lzma
import threading
from collections import Counter
from pathlib import Path

import pytest

from crscan.model import Severity
from crscan.vulndb import FeedDB, FeedError, Location, Tally, build
from crscan.vulndb.enrichment import cve_facts
from crscan.vulndb.nvd import NvdUpdater, parse_bundle, parse_cve, years
from crscan.vulndb.records import CvssScore, NvdRecord
from crscan.vulndb.severity import preferred_nvd_score


@pytest.fixture(scope="module")
def shared_nvd(shared_data) -> dict[str, NvdRecord]:
    feeds = shared_data / "feeds"
    tally = Tally()
    records = {}
    for year in years(feeds):
        for advisory in NvdUpdater(year).read(feeds / "nvd" / f"CVE-{year}", tally):
            assert advisory.namespace == "cve" and advisory.package == advisory.advisory_id
            records[advisory.package] = advisory.record
    assert tally == Tally(145, 0)
    return records


def _v3(record: NvdRecord) -> CvssScore | None:
    """The README's category rule: NVD's Primary v3.x score, else the first Secondary one."""
    for primary in (True, False):
        for score in record.cvss:
            if score.primary is primary and score.version in ("3.1", "3.0"):
                return score
    return None


def test_shared_records_fall_into_the_readme_categories(shared_nvd):
    statuses = Counter(r.status for r in shared_nvd.values())
    assert statuses == {"Modified": 115, "Awaiting Analysis": 13, "Analyzed": 9, "Received": 5, "Rejected": 3}
    categories = Counter()
    for record in shared_nvd.values():
        v3 = _v3(record)
        if record.rejected:
            categories["Rejected"] += 1
        elif v3 is not None:
            categories[v3.severity.name] += 1
        else:
            categories["v2 only" if record.cvss else "no metrics"] += 1
    assert categories == {"CRITICAL": 21, "HIGH": 44, "MEDIUM": 45, "LOW": 5, "v2 only": 17, "no metrics": 10,
                          "Rejected": 3}
    with_v3 = [r for r in shared_nvd.values() if _v3(r)]
    assert sum(any(s.version == "3.1" for s in r.cvss) for r in with_v3) == 88
    assert sum(any(s.version == "2.0" for s in r.cvss) for r in with_v3) == 79
    assert not any(s.version == "4.0" for r in shared_nvd.values() for s in r.cvss)
    secondary_only = sorted(cve for cve, r in shared_nvd.items() if (v3 := _v3(r)) and not v3.primary)
    assert secondary_only == ["CVE-2021-32839", "CVE-2024-21503", "CVE-2024-28182", "CVE-2024-28835",
                              "CVE-2024-37298", "CVE-2024-50602", "CVE-2024-6104", "CVE-2024-6923"]


def test_records_keep_every_rating_with_its_source(shared_nvd):
    # NVD and the CNA disagree (HIGH vs MEDIUM): both kept, told apart by `type`, not position.
    assert shared_nvd["CVE-2020-25658"].cvss == (
        CvssScore("3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, Severity.HIGH, False),
        CvssScore("3.1", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9, Severity.MEDIUM, True),
        CvssScore("2.0", "AV:N/AC:M/Au:N/C:P/I:N/A:N", 4.3, Severity.MEDIUM, True),
    )
    assert preferred_nvd_score(shared_nvd["CVE-2020-25658"]) == shared_nvd["CVE-2020-25658"].cvss[1]
    # CNA v3.1 beside NVD's own v3.0: NVD's own wins, whatever the version.
    assert preferred_nvd_score(shared_nvd["CVE-2019-14232"]).version == "3.0"
    assert preferred_nvd_score(shared_nvd["CVE-2019-14232"]).primary


def test_secondary_only_record_exactly(shared_nvd):
    record = shared_nvd["CVE-2024-6923"]
    assert record.status == "Awaiting Analysis"
    assert record.published == "2024-08-01T14:15:03.647" and record.modified == "2025-01-31T20:15:32.203"
    assert record.description.startswith("There is a MEDIUM severity vulnerability affecting CPython.")
    assert record.cwes == ("CWE-94",)
    assert len(record.references) == 14 and record.references[0] == (
        "https://github.com/python/cpython/commit/06f28dc236708f72871c64d4bc4b4ea144c50147")
    assert record.cvss == (CvssScore("3.1", "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:L/I:L/A:L", 5.5, Severity.MEDIUM,
                                     False),)
    assert preferred_nvd_score(record) == record.cvss[0]  # the CNA's, as NVD has none


def test_v2_only_no_metrics_and_rejected_records(shared_nvd):
    tweepy = shared_nvd["CVE-2012-5825"]
    assert tweepy.cvss == (CvssScore("2.0", "AV:N/AC:M/Au:N/C:P/I:P/A:N", 5.8, Severity.MEDIUM, True),)
    assert preferred_nvd_score(tweepy) == tweepy.cvss[0]
    redis = shared_nvd["CVE-2023-31655"]
    assert redis.cvss == () and preferred_nvd_score(redis) is None and not redis.rejected
    jquery = shared_nvd["CVE-2019-5428"]
    assert jquery.rejected and jquery.cvss == () and jquery.description.startswith("** REJECT **")
    assert {cve for cve, r in shared_nvd.items() if r.rejected} == {"CVE-2019-5428", "CVE-2021-3532", "CVE-2022-0329"}


def test_rejected_record_lends_no_rating():
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    record = parse_cve({"id": "CVE-2020-0001", "vulnStatus": "Rejected", "metrics": {"cvssMetricV31": [
        {"type": "Primary", "cvssData": {"version": "3.1", "vectorString": vector, "baseScore": 9.8,
                                         "baseSeverity": "CRITICAL"}}]}}).record
    assert record.rejected and record.cvss[0].severity is Severity.CRITICAL
    assert preferred_nvd_score(record) is None


def test_v4_ranks_below_v3_and_above_v2():
    def metric(kind: str, version: str, vector: str, score: float, level: str) -> dict:
        return {kind: [{"type": "Primary", "cvssData": {"version": version, "vectorString": vector,
                                                         "baseScore": score, "baseSeverity": level}}]}
    v4 = metric("cvssMetricV40", "4.0", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3,
                "CRITICAL")
    v2 = {"cvssMetricV2": [{"type": "Primary", "baseSeverity": "HIGH", "cvssData": {
        "version": "2.0", "vectorString": "AV:N/AC:L/Au:N/C:P/I:P/A:P", "baseScore": 7.5}}]}
    v30 = metric("cvssMetricV30", "3.0", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3, "MEDIUM")
    assert preferred_nvd_score(parse_cve({"id": "CVE-2024-0001", "metrics": {**v4, **v2}}).record).version == "4.0"
    assert preferred_nvd_score(parse_cve({"id": "CVE-2024-0001", "metrics": {**v4, **v30}}).record).version == "3.0"
    assert preferred_nvd_score(parse_cve({"id": "CVE-2024-0001", "metrics": v2}).record).severity is Severity.HIGH


def test_bundle_formats_and_malformed_records_are_counted():
    good = {"id": "CVE-2024-0002", "vulnStatus": "Analyzed", "descriptions": [{"lang": "en", "value": "x"}]}
    bad = {"id": "not-a-cve"}
    for document in ({"cve_items": [good, bad]}, {"vulnerabilities": [{"cve": good}, {"cve": bad}]}, [good, bad]):
        tally = Tally()
        rows = list(parse_bundle(io.BytesIO(lzma.compress(json.dumps(document).encode())), tally))
        assert [r.package for r in rows] == ["CVE-2024-0002"] and tally == Tally(2, 1)
    with pytest.raises(FeedError, match="CVE-2024.json.xz: not an NVD bundle"):
        list(parse_bundle(io.BytesIO(b"\xfd7zXZ\x00garbage"), Tally(), source="nvd/CVE-2024.json.xz"))
    with pytest.raises(FeedError, match="neither a list"):
        list(parse_bundle(io.BytesIO(b'{"x": 1}'), Tally()))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_yearly_bundles_over_http_give_the_rows_of_the_record_tree(shared_data, tmp_path):
    feeds = shared_data / "feeds"
    served = tmp_path / "served"
    (served / "nvd").mkdir(parents=True)
    for year in years(feeds):
        items = [json.loads(p.read_bytes()) for p in sorted((feeds / "nvd" / f"CVE-{year}").rglob("CVE-*.json"))]
        bundle = {"timestamp": "2026-01-01T00:00:00", "cve_count": len(items), "cve_items": items}
        (served / "nvd" / f"CVE-{year}.json.xz").write_bytes(lzma.compress(json.dumps(bundle).encode()))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        over_http = Location(url)
        report = build([NvdUpdater(y) for y in (2011, *years(feeds))], tmp_path / "http.db", over_http)
        over_http.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert report.missing == ("nvd/CVE-2011",)  # no bundle for that year: absent, not an error
    build([NvdUpdater(y) for y in years(feeds)], tmp_path / "dir.db", Location(feeds))
    with FeedDB.open(tmp_path / "http.db") as a, FeedDB.open(tmp_path / "dir.db") as b:
        rows_a = {(x.package, x.record) for x in a.iter_advisories("cve")}
        rows_b = {(x.package, x.record) for x in b.iter_advisories("cve")}
        assert len(rows_a) == 145 and rows_a == rows_b
        assert all(s.url.startswith(url) and s.url.endswith(".json.xz") for s in a.sources)
        assert cve_facts(a, ["CVE-2024-6923", "CVE-1999-0001"]).keys() == {"CVE-2024-6923"}


def test_unchanged_record_tree_is_reused(shared_data, tmp_path):
    feeds = shared_data / "feeds"
    first = build([NvdUpdater(2024)], tmp_path / "nvd.db", Location(feeds), force=True)
    again = build([NvdUpdater(2024)], tmp_path / "nvd.db", Location(feeds))
    assert first.rebuilt and not again.rebuilt and again.reused == ("nvd/CVE-2024",)


def test_years_of_a_mirror(tmp_path: Path):
    (tmp_path / "nvd" / "CVE-2003").mkdir(parents=True)
    (tmp_path / "nvd" / "CVE-2005.json.xz").write_bytes(b"")
    (tmp_path / "nvd" / "README.md").write_text("")
    assert years(tmp_path) == (2003, 2005)
    assert years(tmp_path / "elsewhere") == ()
    assert years(None)[0] == 1999
