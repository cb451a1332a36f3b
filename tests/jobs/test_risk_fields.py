"""KEV, EPSS and CVSS through the real pipeline into the store: a scan job and a re-match of the bookworm test
image against the shared feeds with the KEV/EPSS fixtures (upstream formats, tests/vulndb/testdata) store
exactly what the pipeline computed for each finding; a build without EPSS data says so on the scan."""

from __future__ import annotations

from sqlalchemy import select

from crscan.jobs import ScanRunner
from crscan.registry import open_source
from crscan.scan.pipeline import Scanner
from crscan.store import schema
from crscan.vulndb import FeedDB
from tests.jobs.conftest import register
from tests.jobs.test_runner import run_one
from tests.vulndb.support import risk_feed_db

import pytest

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def risk_feeds(tmp_path_factory, shared_data):
    return risk_feed_db(tmp_path_factory, shared_data)


def stored_risk(store, scan_result_id) -> dict[tuple[str, str, str], tuple]:
    model = schema.FindingRow
    with store.sessions() as session:
        rows = session.execute(select(model).where(model.scan_result_id == scan_result_id)).scalars().all()
    return {(r.name, r.package, r.path): (r.kev, r.kev_date_added, r.kev_due_date, r.epss_score, r.epss_percentile,
                                           r.epss_date, r.cvss_score, r.cvss_vector) for r in rows}


def computed_risk(findings) -> dict[tuple[str, str, str], tuple]:
    return {(f.name, f.package, f.path): (
        f.kev is not None, f.kev.date_added if f.kev else "", f.kev.due_date if f.kev else "",
        f.epss.score if f.epss else None, f.epss.percentile if f.epss else None, f.epss.score_date if f.epss else "",
        f.cvss_score, f.cvss_vector) for f in findings}


def test_scans_and_rematches_store_the_risk_signals_the_pipeline_computed(
    store, local_registry, test_images, risk_feeds
):
    image = register(store, local_registry, test_images["bookworm"])
    with FeedDB.open(risk_feeds) as db, open_source(test_images["bookworm"].oci_ref) as source:
        expected = computed_risk(Scanner().scan(source, db).findings)

    runner = ScanRunner(store, risk_feeds)
    outcome, result, _ = run_one(store, runner, image.id)
    assert outcome == "ready", result.error_message
    stored = stored_risk(store, result.id)
    assert stored == expected
    # The fixtures' entries for the image's real CVEs (KEV: Django's CVE-2022-28346, urllib3's CVE-2019-11324).
    assert stored[("CVE-2022-28346", "django", next(p for n, _, p in stored if n == "CVE-2022-28346"))][:6] == (
        True, "2024-01-10", "2024-01-31", 0.5, 0.981, "2025-08-25T12:55:00Z")
    assert sum(v[0] for v in stored.values()) >= 2 and any(v[6] is not None for v in stored.values())
    assert result.missing_risk_feeds == []

    outcome, rematched, _ = run_one(store, runner, image.id, rematch=True)
    assert outcome == "ready" and rematched.id != result.id
    assert stored_risk(store, rematched.id) == expected and rematched.missing_risk_feeds == []


def test_a_build_without_epss_data_is_recorded_on_the_scan(store, local_registry, test_images, feed_db_path):
    image = register(store, local_registry, test_images["bookworm"])
    outcome, result, _ = run_one(store, ScanRunner(store, feed_db_path), image.id)
    assert outcome == "ready", result.error_message
    assert result.missing_risk_feeds == ["EPSS"]  # the shared mirror has CISA's catalog but no EPSS scores
    assert all(v[3] is None for v in stored_risk(store, result.id).values())
