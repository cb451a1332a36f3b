"""The scanning service as users run it: `crscan serve` (embedded workers) and `crscan worker` processes,
driven through the official SDK against the real test images in the local registry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yandexcloud
from sqlalchemy import func, select
from yandex.cloud.containerregistry.v1 import scanner_pb2, scanner_service_pb2, scanner_service_pb2_grpc

from crscan.store import schema
from tests.api.test_serve_cli import serve
from tests.jobs.conftest import register
from tests.jobs.test_runner import SEVERITY_FIELDS, findings_by_severity

CRSCAN = Path(sys.executable).parent / "crscan"
READY, RUNNING = scanner_pb2.ScanResult.READY, scanner_pb2.ScanResult.RUNNING


def start_worker(database_url: str, data_dir: Path, feed_db: Path, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")} | env
    process = subprocess.Popen(
        [str(CRSCAN), "worker", "--database-url", database_url, "--data-dir", str(data_dir), "--feed-db",
         str(feed_db), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environ,
    )
    line = process.stdout.readline()
    assert line.startswith("crscan worker: running"), line
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scan_through_the_sdk(sdk, store, image_ids):
    scanner = sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    operations = [scanner.Scan(scanner_service_pb2.ScanRequest(image_id=i)) for i in image_ids]
    results = [
        sdk.wait_operation_and_get_result(
            operation, response_type=scanner_pb2.ScanResult, meta_type=scanner_service_pb2.ScanMetadata, timeout=240,
        ).response
        for operation in operations
    ]
    for result in results:
        assert result.status == READY
        stats = {name: getattr(result.vulnerabilities, name) for name in SEVERITY_FIELDS}
        assert stats == findings_by_severity(store, result.id)
    return scanner, results


def check_listing(scanner, image, result):
    by_image = scanner.List(scanner_service_pb2.ListScanResultsRequest(image_id=image.id))
    by_repository = scanner.List(scanner_service_pb2.ListScanResultsRequest(repository_id=image.repository_id))
    assert [r.id for r in by_image.scan_results] == [result.id]
    assert result.id in [r.id for r in by_repository.scan_results]
    assert scanner.GetLast(scanner_service_pb2.GetLastScanResultRequest(image_id=image.id)) == result
    total = sum(getattr(result.vulnerabilities, name) for name in SEVERITY_FIELDS)
    seen, token = [], ""
    while True:
        page = scanner.ListVulnerabilities(
            scanner_service_pb2.ListVulnerabilitiesRequest(scan_result_id=result.id, page_size=7, page_token=token)
        )
        seen.extend((v.package.name, v.package.package) for v in page.vulnerabilities)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == total
    return total


def sdk_for(served) -> yandexcloud.SDK:
    return yandexcloud.SDK(endpoint=served.grpc_address, iam_token="t1.e2e",
                           root_certificates=served.ca_file.read_bytes())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_scans_end_to_end_on_sqlite(store, database_url, local_registry, test_images, feed_db_path, tmp_path):
    images = [register(store, local_registry, test_images[name]) for name in ("bookworm", "bullseye")]
    served = serve("--data-dir", str(tmp_path / "data"), "--database-url", database_url, "--feed-db",
                   str(feed_db_path), "--http-port", "0", "--grpc-port", "0", "--no-auth")
    try:
        scanner, results = scan_through_the_sdk(sdk_for(served), store, [i.id for i in images])
        totals = [check_listing(scanner, image, result) for image, result in zip(images, results)]
        assert max(totals) > 7  # more than one page
    finally:
        assert served.stop(signal.SIGTERM)[0] == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_on_postgresql_scan_end_to_end(store, database_url, local_registry, test_images, feed_db_path,
                                                   tmp_path):
    images = [register(store, local_registry, test_images[name]) for name in ("bookworm", "bullseye", "arm64")]
    workers = [start_worker(database_url, tmp_path / "data", feed_db_path) for _ in range(2)]
    served = serve("--data-dir", str(tmp_path / "data"), "--database-url", database_url, "--feed-db",
                   str(feed_db_path), "--http-port", "0", "--grpc-port", "0", "--no-auth")
    try:
        scanner, results = scan_through_the_sdk(sdk_for(served), store, [i.id for i in images])
        totals = [check_listing(scanner, image, result) for image, result in zip(images, results)]
        assert max(totals) > 7  # more than one page
    finally:
        served.stop(signal.SIGTERM)
        for worker in workers:
            stop(worker)
    assert all(worker.returncode == 0 for worker in workers)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("max_attempts", [3, 1])
def test_a_worker_killed_mid_scan_leaves_the_scan_to_another(store, database_url, local_registry, test_images,
                                                            feed_db_path, tmp_path, max_attempts):
    """Retried to READY by the surviving worker; or, with no attempts left, ended ERROR — never left RUNNING."""
    image = register(store, local_registry, test_images["bookworm"])
    operation = store.scans.enqueue(image.id)
    env = {"CRSCAN_JOB_LEASE_SECONDS": "2", "CRSCAN_JOB_MAX_ATTEMPTS": str(max_attempts)}
    doomed = start_worker(database_url, tmp_path / "data", feed_db_path, **env)

    def job():
        return store.jobs.of(operation.resource_id)[0]

    deadline = time.monotonic() + 30
    while job().status != schema.JOB_RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # well into the pull
    doomed.kill()  # SIGKILL: no cleanup of any kind
    doomed.wait()
    assert store.scans.get(operation.resource_id).status == RUNNING

    survivor = start_worker(database_url, tmp_path / "data", feed_db_path, **env)
    try:
        deadline = time.monotonic() + 180
        while store.scans.get(operation.resource_id).status == RUNNING and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(survivor)
    result = store.scans.get(operation.resource_id)
    if max_attempts == 1:
        assert result.status == scanner_pb2.ScanResult.ERROR
        assert result.error_message == (
            "scan abandoned: its worker stopped (killed or out of memory) before finishing, on its only attempt"
        )
        assert job().status == schema.JOB_FAILED
        return
    assert result.status == READY, result.error_message
    assert job().attempts == 2 and job().status == schema.JOB_DONE
    with store.sessions() as session:  # the killed attempt left no findings behind
        rows = session.scalar(
            select(func.count()).select_from(schema.FindingRow).where(schema.FindingRow.scan_result_id == result.id)
        )
    assert rows == sum(findings_by_severity(store, result.id).values()) == sum(
        getattr(result, name) for name in SEVERITY_FIELDS
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_queued_rematches_survive_a_worker_restart_none_lost_or_run_twice(store, database_url, local_registry,
                                                                         test_images, feed_db_path, tmp_path):
    """Real scans in real worker processes: 60 queued re-matches, the worker stopped part-way (SIGTERM) and a
    new one started — every scan READY exactly once, every job run by exactly one attempt."""
    from crscan.jobs import ScanRunner
    from tests.store.seeding import add_image

    source = register(store, local_registry, test_images["bookworm"])
    store.scans.enqueue(source.id)
    assert ScanRunner(store, feed_db_path).run(store.jobs.claim(60)) == "ready"
    inventory = store.inventories.get(source.id)
    copies = [add_image(store, repository=f"copies/{n}") for n in range(60)]
    for copy in copies:
        store.inventories.save(copy.id, inventory.cache_key, inventory.reference, inventory.layer_digests)
    operations = [store.scans.enqueue(copy.id, rematch=True) for copy in copies]

    def ready() -> int:
        return sum(store.scans.get(o.resource_id).status == READY for o in operations)

    first = start_worker(database_url, tmp_path / "data", feed_db_path)
    deadline = time.monotonic() + 120
    while ready() < 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop(first)
    assert first.returncode == 0 and 10 <= ready() < 60
    second = start_worker(database_url, tmp_path / "data", feed_db_path)
    try:
        deadline = time.monotonic() + 180
        while ready() < 60 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(second)
    assert ready() == 60
    jobs = [store.jobs.of(o.resource_id) for o in operations]
    assert all(len(j) == 1 and j[0].attempts == 1 and j[0].status == schema.JOB_DONE for j in jobs)
    expected = {name: getattr(store.scans.last_finished(source.id), name) for name in SEVERITY_FIELDS}
    for operation in operations[::10]:
        result = store.scans.get(operation.resource_id)
        assert {name: getattr(result, name) for name in SEVERITY_FIELDS} == expected
