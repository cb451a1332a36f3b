"""One RUNNING scan per image, decided by the database: concurrent `crscan rescan` processes (SQLite and
PostgreSQL) start exactly one scan and the others say which scan they joined; the same for ScanPolicy."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select
from yandex.cloud.containerregistry.v1 import scan_policy_service_pb2 as sps
from yandex.cloud.containerregistry.v1.scan_policy_service_pb2_grpc import ScanPolicyServiceStub

from crscan.api.messages import OPERATION_CODEC
from crscan.api.servicers import build_servicers
from crscan.store import ScanAlreadyRunning, ScanStatus, Store, schema
from tests.api.conftest import running_api
from tests.store.seeding import add_image

CRSCAN = Path(sys.executable).parent / "crscan"
PROCESSES = 8


def running_scans(store: Store, image_id: str) -> int:
    with store.sessions() as session:
        return session.scalar(
            select(func.count()).select_from(schema.ScanResult).where(
                schema.ScanResult.image_id == image_id, schema.ScanResult.status == ScanStatus.RUNNING
            )
        ) or 0


def test_concurrent_rescans_of_one_image_start_one_scan(store, database_url, tmp_path):
    image = add_image(store)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}
    command = [str(CRSCAN), "rescan", "--image-id", image.id, "--database-url", database_url,
               "--data-dir", str(tmp_path)]
    for _ in range(3):  # each round races eight fresh processes; the old process-local lock lost most rounds
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
                     for _ in range(PROCESSES)]
        outcomes = [(process.wait(timeout=120), *process.communicate()) for process in processes]
        assert [code for code, _, _ in outcomes] == [0] * PROCESSES, [err for _, _, err in outcomes]
        assert running_scans(store, image.id) == 1
        started = [out for _, out, _ in outcomes if out.startswith("queued 1 re-match scans")]
        joined = [out for _, out, _ in outcomes if out.startswith("queued 0 re-match scans")]
        assert len(started) == 1 and len(joined) == PROCESSES - 1
        header, queued_row = started[0].splitlines()[1:3]
        assert header == "SCAN RESULT ID\tOPERATION ID"
        scan_id, operation_id = queued_row.split("\t")
        for out in joined:
            assert f"image {image.id} already has a running scan {scan_id} (operation {operation_id})" in out
        assert [job.status for job in store.jobs.of(scan_id)] == [schema.JOB_QUEUED]
        store.scans.cancel(operation_id)  # frees the image for the next round


def test_start_refuses_a_second_running_scan(store):
    image = add_image(store)
    store.scans.start(image.id)
    with pytest.raises(ScanAlreadyRunning, match=image.id):
        store.scans.start(image.id)
    assert running_scans(store, image.id) == 1


def test_concurrent_policy_creates_for_one_registry_have_one_winner(database_url, tmp_path):
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    try:
        registry_id = store.registries.add(f"r{uuid.uuid4().hex[:12]}", "https://registry.example", folder_id="f").id
        with running_api(tmp_path, build_servicers(store), store) as api:
            policies = api.sdk.client(ScanPolicyServiceStub)
            gate = threading.Barrier(2)
            outcomes: list[object] = []

            def create(name: str) -> None:
                gate.wait()
                try:
                    outcomes.append(policies.Create(sps.CreateScanPolicyRequest(registry_id=registry_id, name=name)))
                except grpc.RpcError as error:
                    outcomes.append(error)

            for _ in range(3):
                threads = [threading.Thread(target=create, args=(name,)) for name in ("first", "second")]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                errors = [o for o in outcomes if isinstance(o, grpc.RpcError)]
                assert len(outcomes) == 2 and len(errors) == 1, outcomes
                assert errors[0].code() == grpc.StatusCode.ALREADY_EXISTS
                assert f"registry {registry_id} already has a scan policy" in errors[0].details()
                with store.sessions() as session:
                    rows = session.scalars(select(schema.ScanPolicy).where(
                        schema.ScanPolicy.registry_id == registry_id)).all()
                assert len(rows) == 1
                policies.Delete(sps.DeleteScanPolicyRequest(scan_policy_id=rows[0].id))
                outcomes.clear()
    finally:
        store.close()
