"""`/healthz`, `/readyz` and `/metrics` served for real, over a real Store (SQLite and PostgreSQL) and feed DB."""

from __future__ import annotations

import shutil
import uuid

import pytest

from crscan import metrics
from tests.api.conftest import seed_scanned_image
from tests.ops.conftest import ops_api
from tests.ops.exposition import parse
from tests.support.postgres import ThrowawayPostgres


def test_ready_when_database_answers_and_feed_db_opens(database_url, tmp_path, feed_db):
    with ops_api(tmp_path / "data", database_url, feed_db) as api:
        ready = api.http.get("/readyz")
        live = api.http.get("/healthz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {
        "database": {"ok": True}, "database_write": {"ok": True}, "feed_db": {"ok": True},
    }}
    assert live.status_code == 200


def test_unready_when_the_feed_db_is_missing_or_not_a_feed_db(tmp_path):
    missing = tmp_path / "nowhere" / "feeds.db"
    with ops_api(tmp_path / "data", f"sqlite:///{tmp_path / 'crscan.db'}", missing) as api:
        answer = api.http.get("/readyz")
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "unready"
        assert body["checks"]["database"] == {"ok": True}
        assert body["checks"]["feed_db"]["ok"] is False
        assert str(missing) in body["checks"]["feed_db"]["error"] and "crscan db update" in body["checks"]["feed_db"]["error"]

        missing.parent.mkdir()
        missing.write_bytes(b"not sqlite at all " * 100)
        garbage = api.http.get("/readyz").json()["checks"]["feed_db"]
        assert garbage["ok"] is False and "not a crscan feed DB" in garbage["error"]
        assert api.http.get("/healthz").status_code == 200  # liveness does not depend on either


def test_unready_when_the_sqlite_directory_is_removed(tmp_path, feed_db):
    database_dir = tmp_path / "db"
    database_dir.mkdir()
    with ops_api(tmp_path / "data", f"sqlite:///{database_dir / 'crscan.db'}", feed_db) as api:
        assert api.http.get("/readyz").status_code == 200
        api.store.engine.dispose()  # pooled connections would keep the unlinked file open
        shutil.rmtree(database_dir)
        answer = api.http.get("/readyz")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["feed_db"] == {"ok": True}
    assert checks["database"]["ok"] is False
    assert checks["database"]["error"].startswith("database did not answer SELECT 1: ")


def test_unready_when_postgresql_stops_and_the_error_hides_the_url(tmp_path, feed_db):
    cluster = ThrowawayPostgres().start()  # our own: stopping the session cluster would break other tests
    stopped = False
    try:
        url = cluster.create_database("ops_" + uuid.uuid4().hex[:12])
        with ops_api(tmp_path / "data", url, feed_db) as api:
            assert api.http.get("/readyz").status_code == 200
            cluster.stop()
            stopped = True
            first = api.http.get("/readyz")  # fails on the pooled connection the server dropped
            answer = api.http.get("/readyz")  # a new connection is refused
            assert api.http.get("/healthz").status_code == 200
    finally:
        if not stopped:
            cluster.stop()
    assert first.status_code == answer.status_code == 503
    database = answer.json()["checks"]["database"]
    assert database["ok"] is False
    assert str(cluster.port) in database["error"]  # says where it failed …
    assert "postgresql+psycopg" not in database["error"] and "\n" not in database["error"]  # … in one line


def test_metrics_parse_and_count_a_recorded_scan(tmp_path, feed_db):
    with ops_api(tmp_path / "data", f"sqlite:///{tmp_path / 'crscan.db'}", feed_db) as api:
        before_response = api.http.get("/metrics")
        before = parse(before_response.text)

        metrics.record_scan("ready", 42.0)
        metrics.record_scan("error", 0.2)
        metrics.add_bytes_pulled(1_000_000)
        after = parse(api.http.get("/metrics").text)

    assert before_response.headers["content-type"].startswith("text/plain; version=0.0.4")
    scans = after["crscan_scans_total"]
    assert scans.type == "counter"
    assert scans.value(status="ready") == before["crscan_scans_total"].value(status="ready") + 1
    assert scans.value(status="error") == before["crscan_scans_total"].value(status="error") + 1
    duration, old = after["crscan_scan_duration_seconds"], before["crscan_scan_duration_seconds"]
    assert duration.type == "histogram"
    name = "crscan_scan_duration_seconds"
    assert duration.value(name + "_count") == old.value(name + "_count") + 2
    assert duration.value(name + "_sum") == pytest.approx(old.value(name + "_sum") + 42.2)
    # 42 s lands in the 60 s bucket, not the 30 s one; 0.2 s in both.
    assert duration.value(name + "_bucket", le="60.0") - old.value(name + "_bucket", le="60.0") == 2
    assert duration.value(name + "_bucket", le="30.0") - old.value(name + "_bucket", le="30.0") == 1
    pulled = after["crscan_bytes_pulled_total"]
    assert pulled.value() == before["crscan_bytes_pulled_total"].value() + 1_000_000


def test_queue_depth_reads_the_job_table_and_feed_age_the_build_time(database_url, tmp_path, feed_db):
    with ops_api(tmp_path / "data", database_url, feed_db) as api:
        empty = parse(api.http.get("/metrics").text)
        seeded = seed_scanned_image(api.store)  # its one scan is finished: its job is done, not queued
        image = api.store.images.get(seeded.image_id)
        api.store.scans.start(image.id)
        other = api.store.images.add(image.repository_id, "sha256:" + "ef" * 32, tags=["2.0"], layers=[])
        api.store.scans.start(other.id)  # one running scan per image: the second is of another image
        queued = parse(api.http.get("/metrics").text)

    assert empty["crscan_queue_depth"].type == "gauge"
    assert empty["crscan_queue_depth"].value() == 0
    assert queued["crscan_queue_depth"].value() == 2
    age = queued["crscan_feed_age_seconds"].value()
    assert 0 <= age < 3600  # built by this session's fixture


def test_metrics_leave_out_readings_that_fail_instead_of_failing(tmp_path):
    with ops_api(tmp_path / "data", f"sqlite:///{tmp_path / 'crscan.db'}", tmp_path / "absent.db") as api:
        answer = api.http.get("/metrics")
    assert answer.status_code == 200
    families = parse(answer.text)
    assert "crscan_feed_age_seconds" not in families
    assert families["crscan_queue_depth"].value() == 0


def test_metrics_carry_no_path_or_url_from_the_configuration(tmp_path, feed_db):
    with ops_api(tmp_path / "data", f"sqlite:///{tmp_path / 's3cr3t.db'}", feed_db) as api:
        text = api.http.get("/metrics").text
    assert "s3cr3t" not in text and str(tmp_path) not in text and "sqlite" not in text


@pytest.mark.parametrize("path", ["/readyz", "/metrics", "/healthz"])
def test_probe_paths_answer_only_get(tmp_path, feed_db, path):
    with ops_api(tmp_path / "data", f"sqlite:///{tmp_path / 'crscan.db'}", feed_db) as api:
        answer = api.http.post(path)
    assert answer.status_code == 404
    assert answer.json()["code"] == 5
