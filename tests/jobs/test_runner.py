"""One scan job on the real test images in a real registry: READY with counts equal to the stored findings,
re-match without pulling, and every failure an ERROR whose message says what to do."""

from __future__ import annotations

import collections
import dataclasses
import uuid

import grpc
import httpx

import pytest
from google.rpc import status_pb2
from sqlalchemy import func, select
from yandex.cloud.containerregistry.v1 import scanner_pb2

from crscan.jobs import ScanRunner
from crscan.registry import ByteCounter
from crscan.store import schema
from crscan.store.layer_cache import LayerIndexRow
from crscan.vulndb import FeedDB
from tests.jobs.conftest import register
from tests.support.registry import skopeo_copy

SEVERITY_FIELDS = ("critical", "high", "medium", "low", "negligible", "undefined")


def run_one(store, runner, image_id, *, rematch=False, last_attempt=True):
    operation = store.scans.enqueue(image_id, rematch=rematch)
    job = store.jobs.claim(lease_seconds=60)
    assert job is not None and job.scan_result_id == operation.resource_id
    outcome = runner.run(job, last_attempt=last_attempt)
    return outcome, store.scans.get(operation.resource_id), store.operations.get(operation.id)


def findings_by_severity(store, scan_result_id) -> dict[str, int]:
    with store.sessions() as session:
        rows = session.execute(
            select(schema.FindingRow.severity, func.count())
            .where(schema.FindingRow.scan_result_id == scan_result_id)
            .group_by(schema.FindingRow.severity)
        ).all()
    counts = collections.Counter()
    for severity, count in rows:
        counts[scanner_pb2.Vulnerability.Severity.Name(severity).lower()] += count
    return {name: counts.get(name, 0) for name in SEVERITY_FIELDS}


def error_message(operation) -> str:
    return status_pb2.Status.FromString(operation.error_status).message


def test_scan_is_ready_with_counts_equal_to_findings_then_rematches_without_pulling(
    store, local_registry, test_images, feed_db_path
):
    image = register(store, local_registry, test_images["bookworm"])
    counter = ByteCounter()
    runner = ScanRunner(store, feed_db_path, counter=counter)

    outcome, result, operation = run_one(store, runner, image.id)
    assert outcome == "ready", result.error_message
    assert result.status == scanner_pb2.ScanResult.READY
    counts = findings_by_severity(store, result.id)
    assert {name: getattr(result, name) for name in SEVERITY_FIELDS} == counts
    assert sum(counts.values()) > 0  # bookworm's openssl & co. have advisories in the mirror
    with FeedDB.open(feed_db_path) as db:
        assert result.feed_build_id == db.build_id
    assert operation.done and operation.error_status is None and operation.response_any
    pulled = counter.total
    assert pulled > 0

    inventory = store.inventories.get(image.id)
    assert inventory is not None and len(inventory.layer_digests) == len(test_images["bookworm"].stages)
    with store.sessions() as session:
        cached = session.scalar(select(func.count()).select_from(LayerIndexRow))
    assert cached == len(inventory.layer_digests)

    outcome, again, _ = run_one(store, runner, image.id, rematch=True)
    assert outcome == "ready" and again.id != result.id
    assert counter.total == pulled  # not one byte: manifest, config and layers all skipped
    assert findings_by_severity(store, again.id) == counts

    outcome, rescanned, _ = run_one(store, runner, image.id)  # a plain Scan resolves the manifest again...
    assert outcome == "ready" and findings_by_severity(store, rescanned.id) == counts
    assert counter.total - pulled < pulled / 50  # ...but reads no layer blob


def test_a_deleted_manifest_ends_error_with_manifest_unknown(store, local_registry, test_images, feed_db_path):
    image = register(store, local_registry, test_images["bookworm"], digest=f"sha256:{'e' * 64}")
    outcome, result, operation = run_one(store, ScanRunner(store, feed_db_path), image.id)
    assert outcome == "error" and result.status == scanner_pb2.ScanResult.ERROR
    assert result.error_message.startswith("manifest unknown: ")
    assert error_message(operation) == result.error_message


def test_a_manifest_deleted_after_queueing_ends_not_found_naming_the_image_not_the_registry_address(
    store, local_registry, test_images, feed_db_path, caplog
):
    """Issue 13, item 15: pushed, queued, then deleted through the registry API before the worker pulls."""
    repository = f"gone/{uuid.uuid4().hex[:12]}"
    pushed = skopeo_copy(test_images["bookworm"].oci_ref, f"docker://{local_registry.host}/{repository}:v1")
    image = register(store, local_registry, dataclasses.replace(
        test_images["bookworm"], repository=repository, tag_ref=f"{local_registry.host}/{repository}:v1",
    ), digest=pushed)
    operation = store.scans.enqueue(image.id)
    deleted = httpx.delete(f"{local_registry.url}/v2/{repository}/manifests/{pushed}")
    assert deleted.status_code == 202, deleted.text

    job = store.jobs.claim(lease_seconds=60)
    assert job is not None and job.scan_result_id == operation.resource_id
    assert ScanRunner(store, feed_db_path).run(job) == "error"

    status = status_pb2.Status.FromString(store.operations.get(operation.id).error_status)
    assert status.code == grpc.StatusCode.NOT_FOUND.value[0], status
    assert f"{repository}@{pushed}" in status.message and "v1" in status.message
    assert local_registry.host not in status.message and "127.0.0.1" not in status.message
    assert store.scans.get(operation.resource_id).error_message == status.message
    assert local_registry.host in caplog.text  # the address is for the operator, in the server log


def test_a_missing_feed_db_says_to_run_db_update(store, local_registry, test_images, tmp_path):
    image = register(store, local_registry, test_images["bookworm"])
    outcome, result, operation = run_one(store, ScanRunner(store, tmp_path / "feeds.db"), image.id)
    assert outcome == "error"
    assert error_message(operation).startswith("feed DB missing: run crscan db update")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the client's retries take ~15 s
def test_an_unreachable_registry_is_retried_then_fails(store, test_images, feed_db_path):
    from tests.support.postgres import free_port

    registry_id = store.registries.add("gone", f"http://127.0.0.1:{free_port()}", folder_id="f").id
    repository = store.repositories.add(registry_id, "test/bookworm")
    image = store.images.add(repository.id, test_images["bookworm"].pushed_digest)
    runner = ScanRunner(store, feed_db_path)
    operation = store.scans.enqueue(image.id)
    job = store.jobs.claim(60)
    assert runner.run(job, last_attempt=False) == "retry"
    assert store.scans.get(operation.resource_id).status == scanner_pb2.ScanResult.RUNNING
    assert runner.run(job, last_attempt=True) == "error"
    message = store.scans.get(operation.resource_id).error_message
    assert message.startswith("registry unreachable for ") and "gave up after 1 attempts" in message


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_second_scan_of_a_running_image_returns_the_running_operation(store, local_registry, test_images):
    image = register(store, local_registry, test_images["bookworm"])
    first = store.scans.enqueue(image.id)
    assert store.scans.enqueue(image.id).id == first.id
    store.scans.fail(first.resource_id, "test")
    assert store.scans.enqueue(image.id).id != first.id



@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_workers_scanning_images_with_the_same_layers_pull_each_layer_once(store, local_registry, test_images,
                                                                               feed_db_path):
    import threading

    from tests.support.registry import skopeo_copy

    image = test_images["bookworm"]
    skopeo_copy(image.oci_ref, f"docker://{local_registry.host}/test/bookworm-copy:1")  # same blobs
    first = register(store, local_registry, image)
    registry_id = store.repositories.get(first.repository_id).registry_id
    second = store.images.add(store.repositories.add(registry_id, "test/bookworm-copy").id, image.pushed_digest)
    counter = ByteCounter()
    runner = ScanRunner(store, feed_db_path, counter=counter)
    jobs = []
    for row in (first, second):
        store.scans.enqueue(row.id)
        jobs.append(store.jobs.claim(60))
    outcomes = []
    threads = [threading.Thread(target=lambda job=job: outcomes.append(runner.run(job))) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["ready", "ready"]

    manifest = httpx.get(f"{local_registry.url}/v2/{image.repository}/manifests/{image.pushed_digest}",
                         headers={"Accept": image.pushed_media_type}).json()
    blobs = sum(layer["size"] for layer in manifest["layers"])
    assert blobs <= counter.total < blobs * 1.2  # once, plus manifests and configs; twice would be >= 2x
