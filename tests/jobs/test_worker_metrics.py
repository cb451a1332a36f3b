"""`crscan worker --metrics-port`: the worker's own /healthz and /metrics, read from a real worker process that
ran a real scan on PostgreSQL, with the same token rule as `crscan serve`'s pages."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time

import httpx
import pytest
from yandex.cloud.containerregistry.v1 import scanner_pb2

from crscan.auth import Role, SqlTokenRepository, TokenService
from tests.jobs.conftest import register
from tests.jobs.test_service import CRSCAN, stop

READY = scanner_pb2.ScanResult.READY
LISTENING = re.compile(r"crscan worker: /healthz and /metrics on (http://\S+)")


def start_worker_with_metrics(database_url: str, data_dir, feed_db, *extra: str) -> tuple[subprocess.Popen, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}
    process = subprocess.Popen(
        [str(CRSCAN), "worker", "--database-url", database_url, "--data-dir", str(data_dir), "--feed-db",
         str(feed_db), "--log-level", "warning", "--metrics-port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environ,
    )
    first = process.stdout.readline()
    listening = LISTENING.fullmatch(first.strip())
    assert listening, first
    assert process.stdout.readline().startswith("crscan worker: running")
    return process, listening.group(1)


def sample(text: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


@pytest.mark.postgres
@pytest.mark.registry
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_workers_metrics_show_the_scan_it_ran(store, database_url, local_registry, test_images, feed_db_path,
                                               tmp_path):
    viewer = TokenService(SqlTokenRepository(store)).create(Role.VIEWER, description="prometheus").secret
    image = register(store, local_registry, test_images["bookworm"])
    worker, url = start_worker_with_metrics(database_url, tmp_path / "data", feed_db_path)
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/healthz").json() == {"status": "ok"}  # liveness needs no token
            refused = http.get("/metrics")
            assert refused.status_code == 401 and refused.json()["code"] == 16
            assert http.get("/metrics", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
            assert http.get("/nothing").status_code == 404
            scrape = {"Authorization": f"Bearer {viewer}"}
            before = http.get("/metrics", headers=scrape)
            assert before.status_code == 200
            assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert sample(before.text, 'crscan_scans_total{status="ready"}') == 0.0
            assert sample(before.text, "crscan_feed_age_seconds") > 0

            operation = store.scans.enqueue(image.id)
            deadline = time.monotonic() + 240
            while store.scans.get(operation.resource_id).status != READY and time.monotonic() < deadline:
                time.sleep(0.2)
            assert store.scans.get(operation.resource_id).status == READY
            after = http.get("/metrics", headers=scrape).text
    finally:
        stop(worker)
    assert worker.returncode == 0
    # This process pulled and matched the image: the server's metric families, counted in the worker.
    assert sample(after, 'crscan_scans_total{status="ready"}') == 1.0
    assert sample(after, 'crscan_scans_total{status="error"}') == 0.0
    assert sample(after, "crscan_scan_duration_seconds_count") == 1.0
    assert sample(after, "crscan_bytes_pulled_total") > 0
    assert sample(after, "crscan_queue_depth") == 0.0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_metrics_port_in_use_is_one_line_exit_2(store, database_url, feed_db_path, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")} | {
            "CRSCAN_METRICS_PORT": str(port)}  # the environment, as every other setting
        done = subprocess.run(
            [str(CRSCAN), "worker", "--database-url", database_url, "--data-dir", str(tmp_path / "data"),
             "--feed-db", str(feed_db_path)],
            capture_output=True, text=True, env=environ, timeout=60,
        )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen for metrics on 127.0.0.1:{port}" in lines[0], done.stderr
    assert "running" not in done.stdout
