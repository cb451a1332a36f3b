"""`crscan image scan` against a `crscan serve` whose embedded workers really scan: the bookworm test image in
the local registry, matched against the feed DB built from the shared mirror. Metrics are scraped around it."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass

import httpx
import pytest
import yaml

from crscan.api.messages import OPERATION_CODEC
from crscan.store import Store, schema
from tests.api.test_serve_cli import serve
from tests.cli_client.conftest import crscan_image, parse_table
from tests.jobs.conftest import register
from tests.ops.exposition import parse
from tests.vulndb.support import shared_feed_db


@dataclass(frozen=True)
class Scanning:
    url: str
    http: httpx.Client
    image: schema.Image  # the bookworm image, pullable
    missing: schema.Image  # a digest the registry does not have


@pytest.fixture(scope="module")
def scanning(tmp_path_factory, shared_data, local_registry, test_images):
    directory = tmp_path_factory.mktemp("client-scan")
    feed_db = shared_feed_db(tmp_path_factory, shared_data)
    database_url = f"sqlite:///{directory / 'crscan.db'}"
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    image = register(store, local_registry, test_images["bookworm"])
    missing = store.images.add(image.repository_id, "sha256:" + "e" * 64)
    served = serve("--data-dir", str(directory / "data"), "--database-url", database_url, "--feed-db", str(feed_db),
                   "--http-port", "0", "--grpc-port", "0", "--no-auth")
    try:
        with httpx.Client(base_url=served.rest_url, timeout=30) as http:
            yield Scanning(served.rest_url, http, image, missing)
    finally:
        served.stop(signal.SIGTERM)
        store.close()


def wait_done(scanning: Scanning, operation_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation = scanning.http.get(f"/operations/{operation_id}").json()
        if operation.get("done"):
            return operation
        time.sleep(0.2)
    raise AssertionError(f"operation {operation_id} not done after {timeout} s")


def test_scan_waits_for_the_result_and_the_scrape_counts_it(scanning):
    before = parse(scanning.http.get("/metrics").text)
    done = crscan_image("scan", scanning.image.id, "--endpoint", scanning.url, "--format", "json", timeout=300)
    after = parse(scanning.http.get("/metrics").text)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "READY" and result["imageId"] == scanning.image.id
    assert result == scanning.http.get(f"/container-registry/v1/scans/{result['id']}").json()
    assert result == scanning.http.get(f"/container-registry/v1/images/{scanning.image.id}:lastScanResult").json()
    assert result["vulnerabilities"]  # bookworm's packages have advisories in the shared mirror

    scans = "crscan_scans_total"
    assert after[scans].value(status="ready") == before[scans].value(status="ready") + 1
    name = "crscan_scan_duration_seconds"
    assert after[name].value(name + "_count") == before[name].value(name + "_count") + 1
    assert after["crscan_bytes_pulled_total"].value() > before["crscan_bytes_pulled_total"].value()
    assert after["crscan_queue_depth"].value() == 0

    table = crscan_image("get-last-scan-result", scanning.image.id, "--endpoint", scanning.url)
    (row,) = parse_table(table.stdout)
    assert (row["ID"], row["STATUS"]) == (result["id"], "READY")


def test_scan_async_prints_the_operation_without_waiting(scanning):
    done = crscan_image("scan", scanning.image.id, "--async", "--endpoint", scanning.url, "--format", "yaml")
    assert done.returncode == 0, done.stderr
    operation = yaml.safe_load(done.stdout)
    assert operation["description"] == "Scan image"
    assert operation["metadata"]["@type"].endswith("ScanMetadata")
    finished = wait_done(scanning, operation["id"])
    assert finished["response"]["id"] == operation["metadata"]["scanResultId"]


def test_a_failed_scan_is_one_line_with_the_operations_error(scanning):
    done = crscan_image("scan", scanning.missing.id, "--endpoint", scanning.url, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    listed = scanning.http.get("/container-registry/v1/scans", params={"imageId": scanning.missing.id}).json()
    (result,) = listed["scanResults"]
    assert result["status"] == "ERROR"
    assert done.stderr.startswith("crscan image: error: scan failed: ") and done.stderr.count("\n") == 1


def test_scan_gives_up_waiting_after_its_timeout(scanning):
    done = crscan_image("scan", scanning.image.id, "--timeout", "0", "--endpoint", scanning.url)
    assert done.returncode == 2
    assert "is not done after 0 s" in done.stderr and done.stderr.count("\n") == 1
    wait_done(scanning, done.stderr.split("operation ")[1].split()[0])  # leave nothing running
