"""Two `crscan serve` replicas and two `crscan worker`s on one PostgreSQL database, as behind a load balancer:
page tokens and operations from one replica valid on the other, one webhook push delivered to both recorded and
scanned once, scans spread over the worker processes, and the scheduler run by exactly one replica at a time."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from yandex.cloud.containerregistry.v1 import (
    image_service_pb2,
    image_service_pb2_grpc,
    scan_policy_pb2,
    scanner_pb2,
    scanner_service_pb2,
    scanner_service_pb2_grpc,
)

from crscan.api.webhook import EVENTS_MEDIA_TYPE, WEBHOOK_PATH
from crscan.policies.rules import rules_to_json
from crscan.policies.scheduler import SCHEDULER_LOCK
from crscan.store import schema
from tests.api.test_serve_cli import Served, serve
from tests.jobs.test_service import sdk_for, start_worker, stop
from tests.policies.test_rules import add_policy

pytestmark = [pytest.mark.postgres, pytest.mark.registry]

READY = scanner_pb2.ScanResult.READY
SECRET = "hook-secret"
ELECTED = "scheduler: this process now runs the scheduled rescans"
QUEUED = re.compile(r"queued (\d+) scheduled rescans")


def serve_replica(database_url: str, data_dir: Path, feed_db: Path, log: Path) -> Served:
    """`crscan serve` at info level, its log in a file (read while it runs: the scheduler's lines)."""
    return serve("--data-dir", str(data_dir), "--database-url", database_url, "--feed-db", str(feed_db),
                 "--http-port", "0", "--grpc-port", "0", "--no-auth", log_level="info", stderr_to=log,
                 env={"CRSCAN_WEBHOOK_SECRET": SECRET, "CRSCAN_RESCAN_INTERVAL": "0.5"})


def lock_holders(engine) -> list[int]:
    """Backend pids holding the scheduler's advisory lock (a bigint key is split into classid/objid)."""
    with engine.connect() as connection:
        return list(connection.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = :high AND objid = :low"
        ), {"high": SCHEDULER_LOCK >> 32, "low": SCHEDULER_LOCK & 0xFFFFFFFF}).scalars())


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def scheduled_rescans(log: Path) -> int:
    return sum(int(m.group(1)) for m in QUEUED.finditer(log.read_text()))


def push_events(registry_host: str, images) -> bytes:
    return json.dumps({"events": [
        {"id": f"event-{image.repository}", "action": "push", "request": {"host": registry_host}, "target": {
            "mediaType": image.pushed_media_type, "digest": image.pushed_digest, "repository": image.repository,
            "tag": "1", "url": f"http://{registry_host}/v2/{image.repository}/manifests/1"}}
        for image in images
    ]}).encode()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_serve_replicas_and_two_workers_share_one_postgresql(store, database_url, local_registry, test_images,
                                                                 feed_db_path, tmp_path):
    registry = store.registries.add("local", f"http://{local_registry.host}", folder_id="f")
    add_policy(store, registry.id, push=["test"])
    engine = create_engine(database_url)
    data_dir = tmp_path / "data"
    logs = [tmp_path / "serve-a.log", tmp_path / "serve-b.log"]
    first = serve_replica(database_url, data_dir, feed_db_path, logs[0])
    replicas = [first]
    workers = []
    try:
        # The first replica alone takes the scheduler; the second, started after, never does while it lives.
        holder = wait_for(lambda: lock_holders(engine), 30, "the first replica to take the scheduler lock")
        replicas.append(serve_replica(database_url, data_dir, feed_db_path, logs[1]))
        workers = [start_worker(database_url, data_dir, feed_db_path) for _ in range(2)]

        # One push delivered to both replicas at once: each image recorded once and scanned once.
        pushed = [test_images[name] for name in ("bookworm", "bullseye", "arm64")]
        body = push_events(local_registry.host, pushed)
        answers: list[httpx.Response] = []
        deliveries = [threading.Thread(target=lambda url=r.rest_url: answers.append(httpx.post(
            url + WEBHOOK_PATH, content=body, timeout=60,
            headers={"Authorization": f"Bearer {SECRET}", "Content-Type": EVENTS_MEDIA_TYPE}))) for r in replicas]
        for delivery in deliveries:
            delivery.start()
        for delivery in deliveries:
            delivery.join()
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        repositories = {image.repository: store.repositories.find(registry.id, image.repository) for image in pushed}
        with store.sessions() as session:
            images = {image.repository: session.query(schema.Image).filter_by(
                repository_id=repositories[image.repository].id).all() for image in pushed}
        assert {name: [i.digest for i in rows] for name, rows in images.items()} == {
            image.repository: [image.pushed_digest] for image in pushed}
        image_ids = [rows[0].id for rows in images.values()]

        takers: set[int] = set()  # procrastinate workers seen running a scan (it clears worker_id once done)

        def all_scanned() -> bool:
            with engine.connect() as connection:
                takers.update(connection.execute(text(
                    "SELECT worker_id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id IS NOT NULL"
                )).scalars())
            return all(store.scans.last_finished(i) is not None for i in image_ids)

        wait_for(all_scanned, 240, "the pushed images to be scanned")
        with store.sessions() as session:
            results = {i: session.query(schema.ScanResult).filter_by(image_id=i).all() for i in image_ids}
        assert {i: [r.status for r in rows] for i, rows in results.items()} == {i: [READY] for i in image_ids}

        # An operation started on one replica is polled to completion on the other.
        sdks = [sdk_for(r) for r in replicas]
        operation = sdks[0].client(scanner_service_pb2_grpc.ScannerServiceStub).Scan(
            scanner_service_pb2.ScanRequest(image_id=image_ids[0]))
        result = sdks[1].wait_operation_and_get_result(
            operation, response_type=scanner_pb2.ScanResult, meta_type=scanner_service_pb2.ScanMetadata, timeout=240,
        ).response
        assert result.status == READY and result.image_id == image_ids[0]

        assert len(takers) >= 2, takers  # the three scans were not all run by one process

        # A page token from one replica continues the listing on the other.
        listed, token, turn = [], "", 0
        while True:
            page = sdks[turn % 2].client(image_service_pb2_grpc.ImageServiceStub).List(
                image_service_pb2.ListImagesRequest(registry_id=registry.id, page_size=1, page_token=token))
            listed.extend(i.id for i in page.images)
            turn += 1
            token = page.next_page_token
            if not token:
                break
        assert sorted(listed) == sorted(image_ids) and turn == 3

        # The scheduler runs on the lock holder only; killing it hands the scheduler to the survivor.
        with store.sessions.begin() as session:
            policy = session.get(schema.ScanPolicy, f"crs{registry.id}")
            rules = scan_policy_pb2.ScanRules()
            rules.schedule_rules.append(scan_policy_pb2.ScheduledRule(repository_prefixes=["test"]))
            rules.schedule_rules[0].rescan_period.seconds = 1
            policy.rules = rules_to_json(rules)
        wait_for(lambda: scheduled_rescans(logs[0]) >= 3, 120, "scheduled rescans on the first replica")
        assert lock_holders(engine) == holder
        assert ELECTED in logs[0].read_text() and ELECTED not in logs[1].read_text()
        assert scheduled_rescans(logs[1]) == 0

        first.process.kill()
        first.process.wait()
        successor = wait_for(lambda: [p for p in lock_holders(engine) if p not in holder], 30,
                             "the second replica to take the scheduler lock")
        assert len(successor) == 1
        wait_for(lambda: scheduled_rescans(logs[1]) >= 2, 120, "scheduled rescans on the second replica")
        assert ELECTED in logs[1].read_text()
    finally:
        for replica in replicas:
            if replica.process.poll() is None:
                replica.stop(signal.SIGTERM)
        for worker in workers:
            stop(worker)
        engine.dispose()
