"""`crscan serve --log-format json` logs each scan's life as structured events: queued, started, finished or
failed, with ids, duration and bytes pulled; a job taken over from a dead worker logs `scan.reclaimed`."""

from __future__ import annotations

import json
import logging
import signal
import time

import pytest
from yandexcloud.operations import OperationError
from yandex.cloud.containerregistry.v1 import scanner_pb2, scanner_service_pb2, scanner_service_pb2_grpc

from crscan.jobs.runner import ScanRunner
from tests.api.test_serve_cli import serve
from tests.jobs.conftest import register
from tests.jobs.test_service import sdk_for
from tests.store.seeding import add_image


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_logs_queued_started_finished_and_failed_scans_as_json(store, database_url, local_registry,
                                                                     test_images, feed_db_path, tmp_path):
    image = register(store, local_registry, test_images["bookworm"])
    gone = register(store, local_registry, test_images["bookworm"], digest="sha256:" + "0" * 64)
    served = serve("--data-dir", str(tmp_path / "data"), "--database-url", database_url, "--feed-db",
                   str(feed_db_path), "--http-port", "0", "--grpc-port", "0", "--no-auth",
                   "--log-level", "info", "--log-format", "json")
    try:
        sdk = sdk_for(served)
        scanner = sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
        for image_id in (image.id, gone.id):
            operation = scanner.Scan(scanner_service_pb2.ScanRequest(image_id=image_id))
            try:
                sdk.wait_operation_and_get_result(operation, response_type=scanner_pb2.ScanResult,
                                                  meta_type=scanner_service_pb2.ScanMetadata, timeout=240)
            except OperationError:
                assert image_id == gone.id
    finally:
        assert served.stop(signal.SIGTERM)[0] == 0
    logged = [json.loads(line) for line in served.stderr_text().splitlines() if line.startswith("{")]
    events = {(entry["event"], entry["image_id"]): entry for entry in logged if "event" in entry}

    queued, started = events["scan.queued", image.id], events["scan.started", image.id]
    finished = events["scan.finished", image.id]
    assert queued["scan_result_id"] == started["scan_result_id"] == finished["scan_result_id"]
    assert queued["operation_id"].startswith("cro") and queued["level"] == "info"
    assert finished["duration_seconds"] > 0 and finished["bytes_pulled"] > 1000 and finished["findings"] > 0
    assert finished["message"].startswith(f"scan.finished scan_result_id={finished['scan_result_id']} ")
    failed = events["scan.failed", gone.id]
    assert failed["level"] == "warning" and "manifest unknown" in failed["error"]
    assert failed["scan_result_id"] == events["scan.queued", gone.id]["scan_result_id"]


def test_a_job_whose_lease_expired_is_logged_as_reclaimed(store, tmp_path, caplog):
    image_id = add_image(store).id
    store.scans.enqueue(image_id)
    first = store.jobs.claim(0.001)  # a worker took it and died: its lease runs out
    time.sleep(0.01)
    again = store.jobs.claim(60)
    assert not first.reclaimed and again.reclaimed and again.attempts == 2
    runner = ScanRunner(store, tmp_path / "no-feeds.db")  # fails fast: this test is about the log
    with caplog.at_level(logging.INFO, logger="crscan.jobs.runner"):
        assert runner.run(again) == "error"
    events = [record.crscan_event for record in caplog.records if hasattr(record, "crscan_event")]
    assert [event["event"] for event in events] == ["scan.reclaimed", "scan.started", "scan.failed"]
    assert events[0] == {"event": "scan.reclaimed", "scan_result_id": again.scan_result_id, "image_id": image_id,
                         "job_id": again.id, "attempt": 2}
    assert "feed DB missing" in events[2]["error"] and events[2]["bytes_pulled"] == 0
