"""The response cache on both backends: a repeated read costs no query, and any write — a scan finishing in
another process, hand-written SQL from another process, a write of this one — is visible on the very next read
over REST and gRPC. Callers with different tokens never share an answer (tests/auth/test_response_cache_scopes.py
covers scopes and revocation with token auth on)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from yandex.cloud.containerregistry.v1 import (
    image_service_pb2,
    image_service_pb2_grpc,
    scanner_service_pb2,
    scanner_service_pb2_grpc,
)

from crscan.api.response_cache import ResponseCache
from crscan.model import Severity
from crscan.store import Store
from crscan.store.generation import postgresql_trigger_name, sqlite_trigger_name
from tests.store.seeding import FOLDER, add_image, finding, migrated_store, statements

REPO = Path(__file__).resolve().parents[2]
BASE = "/container-registry/v1"

# A scan that starts and finishes in another process, as a `crscan worker` or a second `crscan serve` would.
FINISH_SCAN = """
import sys
from crscan.api.messages import OPERATION_CODEC
from crscan.model import Severity
from crscan.store import Store
from tests.store.seeding import finding
store = Store(sys.argv[1], OPERATION_CODEC)
operation = store.scans.start(sys.argv[2])
scan_id = store.operations.get(operation.id).resource_id
store.scans.finish(scan_id, [finding("CVE-2024-0002", Severity.CRITICAL)], {Severity.CRITICAL: 1}, "build-2", [])
store.close()
print(scan_id)
"""
# Plain SQL from another process: no crscan code involved, only the database's triggers.
RUN_SQL = """
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
with engine.begin() as connection:
    connection.execute(text(sys.argv[2]), {"image_id": sys.argv[3]})
engine.dispose()
"""


def in_another_process(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def scanned_image(store: Store) -> tuple[str, str]:
    image = add_image(store)
    operation = store.scans.start(image.id)
    scan_id = store.operations.get(operation.id).resource_id
    store.scans.finish(scan_id, [finding("CVE-2024-0001", Severity.HIGH)], {Severity.HIGH: 1}, "build-1", [])
    return image.id, scan_id


def last_scan(api, image_id: str) -> tuple[str, str]:
    """GetLast's scan id over REST and over gRPC."""
    rest = api.http.get(f"{BASE}/images/{image_id}:lastScanResult")
    assert rest.status_code == 200, rest.text
    scanner = api.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    grpc_answer = scanner.GetLast(scanner_service_pb2.GetLastScanResultRequest(image_id=image_id))
    return rest.json()["id"], grpc_answer.id


def test_a_repeated_read_is_answered_from_the_cache_without_a_query(api):
    image_id, scan_id = scanned_image(api.store)
    paths = [f"{BASE}/images/{image_id}:lastScanResult", f"{BASE}/images/{image_id}",
             f"{BASE}/scans?imageId={image_id}&pageSize=100", f"{BASE}/scans/{scan_id}:listVulnerabilities"]
    first = [api.http.get(path) for path in paths]
    assert [r.status_code for r in first] == [200] * len(paths)
    with statements(api.store) as seen:
        again = [api.http.get(path) for path in paths]
        scanner = api.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
        scanner.GetLast(scanner_service_pb2.GetLastScanResultRequest(image_id=image_id))
        scanner.GetLast(scanner_service_pb2.GetLastScanResultRequest(image_id=image_id))
    assert seen == []
    assert [r.content for r in again] == [r.content for r in first]
    assert [r.headers["content-type"] for r in again] == ["application/json"] * len(paths)


def test_a_scan_finished_by_another_process_is_visible_on_the_next_read(api, database_url):
    image_id, first_scan = scanned_image(api.store)
    assert last_scan(api, image_id) == (first_scan, first_scan)
    listed = api.http.get(f"{BASE}/scans", params={"imageId": image_id}).json()["scanResults"]
    assert [r["id"] for r in listed] == [first_scan]

    second_scan = in_another_process(FINISH_SCAN, database_url, image_id)

    assert last_scan(api, image_id) == (second_scan, second_scan)
    listed = api.http.get(f"{BASE}/scans", params={"imageId": image_id}).json()["scanResults"]
    assert {r["id"] for r in listed} == {first_scan, second_scan}
    vulnerabilities = api.http.get(f"{BASE}/scans/{second_scan}:listVulnerabilities").json()["vulnerabilities"]
    assert [v["package"]["name"] for v in vulnerabilities] == ["CVE-2024-0002"]


def test_plain_sql_from_another_process_is_visible_on_the_next_read(api, database_url):
    image_id, _ = scanned_image(api.store)
    images = api.sdk.client(image_service_pb2_grpc.ImageServiceStub)
    assert [i.id for i in images.List(image_service_pb2.ListImagesRequest(folder_id=FOLDER)).images] == [image_id]
    before = api.http.get(f"{BASE}/images/{image_id}").json()
    assert before["config"].get("size", "0") == "0"
    assert images.Get(image_service_pb2.GetImageRequest(image_id=image_id)).config.size == 0

    in_another_process(RUN_SQL, database_url, "UPDATE images SET config_size = 4242 WHERE id = :image_id", image_id)

    assert api.http.get(f"{BASE}/images/{image_id}").json()["config"]["size"] == "4242"
    assert images.Get(image_service_pb2.GetImageRequest(image_id=image_id)).config.size == 4242

    in_another_process(RUN_SQL, database_url, "DELETE FROM images WHERE id = :image_id", image_id)

    assert api.http.get(f"{BASE}/images/{image_id}").status_code == 404
    assert images.List(image_service_pb2.ListImagesRequest(folder_id=FOLDER)).images == []


def test_a_write_of_this_process_is_visible_on_the_next_read(api):
    image_id, first_scan = scanned_image(api.store)
    assert last_scan(api, image_id) == (first_scan, first_scan)
    operation = api.store.scans.start(image_id)
    second_scan = api.store.operations.get(operation.id).resource_id
    api.store.scans.fail(second_scan, "registry unreachable")  # a finished scan too: GetLast shows ERROR ones
    assert last_scan(api, image_id) == (second_scan, second_scan)


def test_every_tracked_table_has_its_generation_trigger(database_url):
    store = migrated_store(database_url)
    try:
        assert store.generation.missing_triggers() == []
        before = store.generation.read()
        add_image(store)  # registry, repository, image and layer rows
        assert store.generation.read() > before
        with store.engine.connect() as connection:  # every transaction bumps it, not only a connection's first
            for _ in range(2):
                before = store.generation.read()
                with connection.begin():
                    connection.execute(text("UPDATE registries SET name = name"))
                assert store.generation.read() > before
    finally:
        store.close()


def test_without_its_triggers_the_cache_stays_off_and_reads_stay_fresh(database_url):
    store = migrated_store(database_url)
    try:
        image_id, first_scan = scanned_image(store)
        with store.engine.begin() as connection:
            if store.engine.dialect.name == "sqlite":
                connection.execute(text(f"DROP TRIGGER {sqlite_trigger_name('scan_results', 'update')}"))
            else:
                connection.execute(text(f"DROP TRIGGER {postgresql_trigger_name('scan_results')} ON scan_results"))
        assert store.generation.missing_triggers() == [
            sqlite_trigger_name("scan_results", "update") if store.engine.dialect.name == "sqlite"
            else postgresql_trigger_name("scan_results")
        ]
        cache = ResponseCache(store)
        assert not cache.usable()
        calls = []
        request = scanner_service_pb2.GetLastScanResultRequest(image_id=image_id)
        for _ in range(2):
            cache.call("GetLast", request, lambda: calls.append(1) or scanner_service_pb2.GetLastScanResultRequest())
        assert len(calls) == 2  # computed every time
    finally:
        store.close()


@pytest.fixture
def two_servers(database_url, tmp_path):
    """Two API processes' worth of servicers on one database, as two `crscan serve` replicas."""
    from crscan.api.messages import OPERATION_CODEC
    from crscan.api.servicers import build_servicers
    from tests.api.conftest import running_api

    stores = [Store(database_url, OPERATION_CODEC) for _ in range(2)]
    stores[0].migrate()
    try:
        with running_api(tmp_path / "a", build_servicers(stores[0]), stores[0]) as first, \
                running_api(tmp_path / "b", build_servicers(stores[1]), stores[1]) as second:
            yield first, second
    finally:
        for store in stores:
            store.close()


def test_a_write_through_one_replica_is_visible_on_the_other(two_servers):
    first, second = two_servers
    image_id, _ = scanned_image(first.store)
    assert second.http.get(f"{BASE}/images/{image_id}").status_code == 200  # cached on the second replica
    deleted = first.http.delete(f"{BASE}/images/{image_id}")
    assert deleted.status_code == 200, deleted.text
    assert second.http.get(f"{BASE}/images/{image_id}").status_code == 404


def test_the_cache_stays_within_its_bounds_and_forgets_everything_when_the_store_changes():
    cache = ResponseCache(None, max_entries=2, max_bytes=10_000)  # bookkeeping only: no store is read
    answers = [scanner_service_pb2.GetLastScanResultRequest(image_id=f"crp{n:017d}") for n in range(3)]
    for n, answer in enumerate(answers):
        cache.put(("GetLast", bytes([n]), "", None), 7, answer)
    assert cache.get(("GetLast", bytes([0]), "", None), 7) is None  # least recently used, evicted
    assert cache.get(("GetLast", bytes([2]), "", None), 7) is answers[2]
    assert cache.get(("GetLast", bytes([2]), "", None), 8) is None  # another generation: not served

    body = cache.rendered(answers[2], lambda message: b"x" * 9_970)  # kept with its entry, counted (22 + 9970 bytes)
    assert cache.rendered(answers[2], lambda message: b"never rendered again") == body
    assert cache.get(("GetLast", bytes([1]), "", None), 7) is None  # evicted to make room for the body
    assert cache.rendered(answers[1], lambda message: b"not cached") == b"not cached"

    cache.put(("GetLast", bytes([3]), "", None), 8, answers[0])  # the store changed: all entries go
    assert cache.get(("GetLast", bytes([2]), "", None), 7) is None
    assert cache.get(("GetLast", bytes([2]), "", None), 8) is None
    assert cache.get(("GetLast", bytes([3]), "", None), 8) is answers[0]


def test_a_truncate_on_postgresql_bumps_the_generation(postgres):
    # SQLite has no TRUNCATE; PostgreSQL's fires no row triggers, so it has a statement trigger of its own.
    store = migrated_store(postgres.create_database("t_" + uuid.uuid4().hex[:16]))
    try:
        add_image(store)
        before = store.generation.read()
        with store.engine.begin() as connection:
            connection.execute(text("TRUNCATE findings"))
        assert store.generation.read() > before
    finally:
        store.close()
