"""The store on both backends: migrations, resources, IDs, and the scan lifecycle the pipeline drives."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator

import grpc
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from google.rpc import status_pb2
from sqlalchemy import Connection, inspect, select, text
from yandex.cloud.containerregistry.v1 import image_service_pb2, scanner_pb2, scanner_service_pb2

from crscan.api import messages
from crscan.api.messages import OPERATION_CODEC
from crscan.model import EpssScore, KevFlag, Severity
from crscan.store import (
    InventoryRecord,
    Layer,
    NotFound,
    Order,
    ScanNotRunning,
    Store,
    StoreError,
    scan_sort_values,
    schema,
)
from tests.store.seeding import FOLDER, add_image, finding, migrated_store

ID_SHAPE = re.compile(r"[0-9a-v]{17}")


@pytest.fixture
def store(database_url):
    store = migrated_store(database_url)
    yield store
    store.close()


def test_migration_creates_every_table_and_matches_the_models(store):
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "registries", "repositories", "images", "image_layers", "scan_results", "findings",
        "operations", "scan_policies", "jobs", "settings", "alembic_version",
    } <= tables
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), schema.Base.metadata)
    assert diff == []


def test_migrate_twice_is_a_no_op(store):
    with store.engine.connect() as connection:
        before = connection.execute(text("select version_num from alembic_version")).scalar()
    store.migrate()
    with store.engine.connect() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar() == before
    assert before == _head()


def _migrations() -> Config:
    config = Config()
    config.set_main_option("script_location", "crscan.store:migrations")
    return config


@contextlib.contextmanager
def _moved_to(store: Store, move: Callable[[Config, str], None], revision: str) -> Iterator[Connection]:
    """A transaction in which the schema was first moved (`command.upgrade` / `command.downgrade`) to
    `revision`."""
    config = _migrations()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        move(config, revision)
        yield connection


def _head() -> str:
    return ScriptDirectory.from_config(_migrations()).get_current_head()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path):
    store = migrated_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with store.engine.connect() as connection:
        assert connection.execute(text("pragma journal_mode")).scalar() == "wal"
        assert connection.execute(text("pragma foreign_keys")).scalar() == 1
        assert connection.execute(text("pragma busy_timeout")).scalar() == 10_000


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://db/x", "scheme 'mysql' is not supported"),
        ("postgresql+psycopg2://db/x", r"driver .psycopg2.: use postgresql\+psycopg://"),
        ("sqlite://", "must name a SQLite file"),
        ("not a url", "malformed"),
    ],
)
def test_unsupported_database_urls_are_refused_by_name(url, message):
    with pytest.raises(StoreError, match=message):
        Store(url, OPERATION_CODEC)


def test_resources_round_trip_with_ids_of_their_prefix(store):
    registry = store.registries.add("main", "https://r.example", folder_id=FOLDER, labels={"env": "prod"})
    repository = store.repositories.add(registry.id, "library/debian")
    assert store.repositories.add(registry.id, "library/debian").id == repository.id  # get-or-create
    image = add_image(
        store, registry.id, "library/debian", tags=["12", "latest"], config_digest="sha256:c", config_size=1469,
        layers=[Layer("sha256:l1", 100), Layer("sha256:l2", 23)],
    )
    assert registry.id.startswith("crp") and ID_SHAPE.fullmatch(registry.id[3:])
    assert repository.id.startswith("crt") and ID_SHAPE.fullmatch(repository.id[3:])
    assert image.id.startswith("crp") and len(image.id) == 20

    got = store.images.get(image.id)
    assert (got.digest, got.tags, got.compressed_size) == (image.digest, ["12", "latest"], 123)
    assert [(layer.digest, layer.size) for layer in got.layers] == [("sha256:l1", 100), ("sha256:l2", 23)]
    view = store.images.view(image.id)  # what the API shows, read without the ORM
    assert (view.digest, view.tags, view.compressed_size, view.layers) == (got.digest, got.tags, 123, (
        Layer("sha256:l1", 100), Layer("sha256:l2", 23)))
    proto = messages.image(view)
    assert proto.name == f"{registry.id}/library/debian"
    assert proto.config.digest == "sha256:c" and proto.config.size == 1469
    assert store.registries.get(registry.id).labels == {"env": "prod"}
    assert store.repositories.find(registry.id, "library/debian").id == repository.id
    assert store.repositories.find(registry.id, "library/alpine") is None


def test_duplicates_and_dangling_references_are_refused(store):
    registry = store.registries.add("main", "https://r.example", folder_id=FOLDER)
    with pytest.raises(StoreError, match="registry 'main' already exists"):
        store.registries.add("main", "https://other.example", folder_id=FOLDER)
    with pytest.raises(NotFound, match="registry crpnope not found"):
        store.repositories.add("crpnope", "x")
    image = add_image(store, registry.id)
    with pytest.raises(StoreError, match="already exists in repository"):
        store.images.add(image.repository_id, image.digest)
    with pytest.raises(NotFound, match="image crp0000 not found"):
        store.scans.start("crp0000")


def test_start_scan_writes_result_operation_and_queued_job_together(store):
    image = add_image(store)
    row = store.scans.start(image.id, created_by="alice")
    operation = messages.operation(row)
    metadata = scanner_service_pb2.ScanMetadata()
    assert operation.metadata.Unpack(metadata)
    assert (operation.done, operation.description, operation.created_by) == (False, "Scan image", "alice")
    assert operation.id.startswith("cro") and metadata.scan_result_id.startswith("che")
    result = store.scans.get(metadata.scan_result_id)
    assert (result.status, result.image_id, result.repository_id) == (
        scanner_pb2.ScanResult.RUNNING, image.id, image.repository_id,
    )
    assert not messages.scan_result(result).HasField("scanned_at")
    [job] = store.jobs.of(result.id)
    assert (job.kind, job.status, job.payload) == (
        "scan", "queued", {"scan_result_id": result.id, "image_id": image.id, "rematch": False},
    )


def test_finish_scan_stores_findings_and_completes_the_operation(store):
    image = add_image(store)
    operation_id = store.scans.start(image.id).id
    scan_id = store.operations.get(operation_id).resource_id
    findings = [
        finding("CVE-2024-0001", Severity.CRITICAL, origin="os", type="debian"),
        finding("GHSA-aaaa-bbbb-cccc", Severity.HIGH, package="requests", source="pip", origin="lang", type="python",
                advisory_id="GHSA-aaaa-bbbb-cccc", severity_source="ghsa", path="/usr/lib/python3/dist-packages"),
    ]
    store.scans.finish(scan_id, findings, {Severity.CRITICAL: 1, Severity.HIGH: 1}, "build-7", ["layer 3 truncated"])

    result = store.scans.get(scan_id)
    assert (result.status, result.critical, result.high, result.medium) == (scanner_pb2.ScanResult.READY, 1, 1, 0)
    assert (result.feed_build_id, result.warnings) == ("build-7", ["layer 3 truncated"])
    with store.sessions() as session:
        rows = session.scalars(select(schema.FindingRow).order_by(schema.FindingRow.severity)).all()
    assert [(r.name, r.severity, r.origin, r.type, r.source, r.advisory_id, r.severity_source) for r in rows] == [
        ("CVE-2024-0001", 1, "os", "debian", "dpkg", "CVE-2024-0001", "debian"),
        ("GHSA-aaaa-bbbb-cccc", 2, "lang", "python", "pip", "GHSA-aaaa-bbbb-cccc", "ghsa"),
    ]
    assert rows[0].layer_digest == "sha256:" + "a" * 64 and rows[1].path == "/usr/lib/python3/dist-packages"

    operation = messages.operation(store.operations.get(operation_id))
    packed = scanner_pb2.ScanResult()
    assert operation.done and operation.response.Unpack(packed)
    assert packed == messages.scan_result(result) and packed.HasField("scanned_at")
    assert store.jobs.of(scan_id)[0].status == "done"
    with pytest.raises(ScanNotRunning, match="is READY, not RUNNING"):
        store.scans.finish(scan_id, [], {}, "build-8", [])
    with pytest.raises(ScanNotRunning):
        store.scans.fail(scan_id, "late failure")


def test_finish_replaces_the_image_inventory_with_the_result_and_not_when_the_scan_ended_meanwhile(store):
    image = add_image(store)
    store.inventories.save(image.id, "key-1", "old/ref@sha256:1", ["sha256:old"])
    scan_id = store.operations.get(store.scans.start(image.id).id).resource_id
    pulled = InventoryRecord("key-2", "host/app@sha256:2", ("sha256:base", "sha256:top"))
    store.scans.finish(scan_id, [], {}, "b", [], inventory=pulled)
    stored = store.inventories.get(image.id)
    assert (stored.cache_key, stored.reference, stored.layer_digests) == ("key-2", "host/app@sha256:2",
                                                                          ["sha256:base", "sha256:top"])

    cancelled = store.scans.start(image.id)
    store.scans.cancel(cancelled.id)
    with pytest.raises(ScanNotRunning):  # one transaction: a late result leaves the inventory as it was
        store.scans.finish(cancelled.resource_id, [], {}, "b", [],
                           inventory=InventoryRecord("key-3", "host/app@sha256:3", ("sha256:x",)))
    assert store.inventories.get(image.id).cache_key == "key-2"


def test_scan_target_reads_image_repository_and_registry_at_once(store):
    image = add_image(store, repository="team/app", tags=["1.0"])
    target = store.images.scan_target(image.id)
    registry = store.registries.get(store.repositories.get(image.repository_id).registry_id)
    assert (target.image_id, target.digest, target.tags, target.repository_name) == (image.id, image.digest,
                                                                                      ["1.0"], "team/app")
    assert (target.registry.id, target.registry.url) == (registry.id, registry.url)
    with pytest.raises(NotFound, match="image crpnothere not found"):
        store.images.scan_target("crpnothere")


def test_finish_keeps_each_findings_kev_epss_and_cvss_and_the_risk_feeds_the_build_lacked(store):
    image = add_image(store)
    scan_id = store.operations.get(store.scans.start(image.id).id).resource_id
    exploited = finding("CVE-2025-48384", Severity.HIGH, package="git", severity_source="nvd",
                        cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:H/A:H", cvss_score=8.0,
                        kev=KevFlag("2025-08-25", "2025-09-15"), epss=EpssScore(0.1, 0.928, "2025-08-25T12:55:00Z"))
    plain = finding("CVE-2024-0001", Severity.LOW)
    store.scans.finish(scan_id, [exploited, plain], {Severity.HIGH: 1, Severity.LOW: 1}, "build-9", [], ["EPSS"])

    assert store.scans.get(scan_id).missing_risk_feeds == ["EPSS"]
    with store.sessions() as session:
        rows = {r.name: r for r in session.scalars(select(schema.FindingRow))}
    kept = rows["CVE-2025-48384"]
    assert (kept.cvss_score, kept.cvss_vector) == (8.0, exploited.cvss_vector)
    assert (kept.kev, kept.kev_date_added, kept.kev_due_date) == (True, "2025-08-25", "2025-09-15")
    assert (kept.epss_score, kept.epss_percentile, kept.epss_date) == (0.1, 0.928, "2025-08-25T12:55:00Z")
    none = rows["CVE-2024-0001"]
    assert (none.cvss_score, none.cvss_vector, none.kev, none.kev_date_added, none.epss_score, none.epss_percentile) \
        == (None, "", False, "", None, None)
    # The API's Vulnerability carries exactly the proto's fields: the risk signals stay off the wire.
    assert messages.vulnerability(kept) == messages.vulnerability(
        schema.FindingRow(**{c.key: getattr(kept, c.key) for c in schema.FindingRow.__table__.columns
                             if not c.key.startswith(("kev", "epss", "cvss"))}))


def test_upgrading_keeps_earlier_findings_and_marks_their_risk_signals_unknown(database_url):
    """Findings stored before 0009 read as not in KEV, unscored and unrated, and their scan as 'not known'."""
    store = Store(database_url, OPERATION_CODEC)
    try:
        with _moved_to(store, command.upgrade, "0008") as connection:
            _insert_old_scan(connection, {"CVE-2025-48384": "2"})
        store.migrate()
        with store.sessions() as session:
            row = session.scalars(select(schema.FindingRow)).one()
        assert (row.kev, row.kev_date_added, row.epss_score, row.cvss_score, row.cvss_vector) == (
            False, "", None, None, "")
        assert store.scans.get("cheold").missing_risk_feeds is None
        with _moved_to(store, command.downgrade, "0008") as connection:  # and back: drops exactly what 0009 added
            assert "kev" not in {c["name"] for c in inspect(connection).get_columns("findings")}
        store.migrate()
    finally:
        store.close()


def test_upgrading_gives_earlier_findings_the_status_crscan_reported_then(database_url):
    """Findings stored before 0010 become "fixed" with a fixed version and "affected" without; 0010's downgrade
    drops only the status."""
    store = Store(database_url, OPERATION_CODEC)
    try:
        with _moved_to(store, command.upgrade, "0008") as connection:
            _insert_old_scan(connection, {"CVE-2025-48384": "2", "CVE-2016-1585": ""})
        store.migrate()
        with store.sessions() as session:
            statuses = {r.name: r.status for r in session.scalars(select(schema.FindingRow))}
        assert statuses == {"CVE-2025-48384": "fixed", "CVE-2016-1585": "affected"}
        with _moved_to(store, command.downgrade, "0009") as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("findings")}
            assert "status" not in columns and "kev" in columns
        store.migrate()
    finally:
        store.close()


def _insert_old_scan(connection, fixed_by: dict[str, str]) -> None:
    """A READY scan result `cheold` of one image, stored by migration 0008's schema, with a finding per CVE (and
    its fixed version) of `fixed_by`."""
    connection.execute(text(
        "INSERT INTO registries (id, folder_id, name, url, insecure, username, ca_file, auth_realm_hosts, "
        "labels, created_at) VALUES ('crpold', 'f', 'r', 'u', false, '', '', '[]', '{}', '2026-01-01')"))
    connection.execute(text("INSERT INTO repositories (id, registry_id, name) VALUES ('crtold', 'crpold', 'x')"))
    connection.execute(text(
        "INSERT INTO images (id, repository_id, digest, tags, config_digest, config_size, compressed_size, "
        "created_at) VALUES ('crpimg', 'crtold', 'sha256:0', '[]', '', 0, 0, '2026-01-01')"))
    connection.execute(text(
        "INSERT INTO scan_results (id, image_id, repository_id, status, scanned_at, critical, high, medium, "
        "low, negligible, undefined, feed_build_id, warnings, error_message, created_at) VALUES ('cheold', "
        f"'crpimg', 'crtold', 2, '2026-01-01', 0, {len(fixed_by)}, 0, 0, 0, 0, 'b', '[]', '', '2026-01-01')"))
    for name, fixed in fixed_by.items():
        connection.execute(text(
            "INSERT INTO findings (scan_result_id, severity, name, link, package, source, version, fixed_by, "
            "origin, type, advisory_id, severity_source, layer_digest, path) VALUES ('cheold', 2, "
            f"'{name}', '', 'git', 'dpkg', '1', '{fixed}', 'os', 'debian', '{name}', 'nvd', '', '')"))


def test_a_scan_finished_without_saying_which_risk_feeds_it_had_records_that_as_unknown(store):
    image = add_image(store)
    scan_id = store.operations.get(store.scans.start(image.id).id).resource_id
    store.scans.finish(scan_id, [], {}, "build-10", [])
    assert store.scans.get(scan_id).missing_risk_feeds is None


def test_fail_scan_marks_error_and_puts_the_message_in_the_operation(store):
    image = add_image(store)
    operation_id = store.scans.start(image.id).id
    scan_id = store.operations.get(operation_id).resource_id
    store.scans.fail(scan_id, "manifest unknown: sha256:dead")
    assert store.scans.get(scan_id).status == scanner_pb2.ScanResult.ERROR
    operation = messages.operation(store.operations.get(operation_id))
    assert operation.done and operation.WhichOneof("result") == "error"
    assert (operation.error.code, operation.error.message) == (
        grpc.StatusCode.INTERNAL.value[0], "manifest unknown: sha256:dead",
    )
    assert store.jobs.of(scan_id)[0].status == "failed"
    assert store.scans.last_finished(image.id).id == scan_id


def test_cancel_ends_a_running_scan_and_leaves_a_done_operation_alone(store):
    image = add_image(store)
    operation_id = store.scans.start(image.id).id
    scan_id = store.operations.get(operation_id).resource_id
    cancelled = messages.operation(store.scans.cancel(operation_id))
    assert cancelled.done and cancelled.error.code == grpc.StatusCode.CANCELLED.value[0]
    assert store.scans.get(scan_id).status == scanner_pb2.ScanResult.ERROR
    assert store.jobs.of(scan_id)[0].status == "cancelled"
    again = messages.operation(store.scans.cancel(operation_id))
    assert again == cancelled
    with pytest.raises(ScanNotRunning):
        store.scans.finish(scan_id, [], {}, "b", [])


def test_last_finished_scan_skips_running_ones(store):
    image = add_image(store)
    assert store.scans.last_finished(image.id) is None
    first = store.operations.get(store.scans.start(image.id).id).resource_id
    store.scans.finish(first, [], {}, "b", [])
    store.scans.start(image.id)  # still running: not "finished"
    assert store.scans.last_finished(image.id).id == first


def test_delete_image_cascades_and_aborts_its_running_scans(store):
    image = add_image(store)
    done = store.operations.get(store.scans.start(image.id).id).resource_id
    store.scans.finish(done, [finding("CVE-1", Severity.LOW)], {Severity.LOW: 1}, "b", [])
    running_operation = store.scans.start(image.id).id
    operation = messages.operation(store.images.delete(image.id))
    metadata = image_service_pb2.DeleteImageMetadata()
    assert operation.done and operation.metadata.Unpack(metadata) and metadata.image_id == image.id
    with store.sessions() as session:
        for model in (schema.Image, schema.ScanResult, schema.FindingRow, schema.ImageLayer):
            assert session.scalars(select(model)).all() == []
    aborted = messages.operation(store.operations.get(running_operation))
    assert aborted.done and aborted.error.code == grpc.StatusCode.ABORTED.value[0]
    with pytest.raises(NotFound):
        store.images.delete(image.id)


def test_page_token_key_is_created_once_and_shared(store, database_url):
    key = store.page_token_key()
    other = Store(database_url, OPERATION_CODEC)
    try:
        assert other.page_token_key() == key and len(key) == 32
    finally:
        other.close()


def test_error_status_bytes_are_a_google_rpc_status(store):
    image = add_image(store)
    operation_id = store.scans.start(image.id).id
    store.scans.fail(store.operations.get(operation_id).resource_id, "boom")
    status = status_pb2.Status.FromString(store.operations.get(operation_id).error_status)
    assert status.message == "boom"


def test_keyset_pages_follow_the_order_without_repeats(store):
    image = add_image(store)
    for _ in range(7):
        scan_id = store.operations.get(store.scans.start(image.id).id).resource_id
        store.scans.finish(scan_id, [], {}, "b", [])
    order = Order("scanned_at", descending=True)
    seen, after = [], None
    while True:
        page = store.scans.page(image_id=image.id, order=order, after=after, limit=3)
        seen += page.rows
        if not page.has_more:
            break
        after = scan_sort_values(page.rows[-1], order)
    assert len(seen) == 7 and len({r.id for r in seen}) == 7
    assert [r.scanned_at for r in seen] == sorted((r.scanned_at for r in seen), reverse=True)


def test_finish_racing_cancel_has_exactly_one_winner(store):
    """The pipeline finishing while a user cancels: one transition wins and every record agrees with it."""
    image = add_image(store)
    for _ in range(6):
        operation_id = store.scans.start(image.id).id
        scan_id = store.operations.get(operation_id).resource_id
        finish_refused = []
        barrier = threading.Barrier(2)

        def finish():
            barrier.wait()
            try:
                store.scans.finish(scan_id, [finding("CVE-1", Severity.LOW)], {Severity.LOW: 1}, "b", [])
            except ScanNotRunning:
                finish_refused.append(True)

        def cancel():
            barrier.wait()
            store.scans.cancel(operation_id)  # never fails: a scan that just finished is reported as such

        threads = [threading.Thread(target=finish), threading.Thread(target=cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        operation = messages.operation(store.operations.get(operation_id))
        result = store.scans.get(scan_id)
        with store.sessions() as session:
            stored = session.scalars(select(schema.FindingRow).where(schema.FindingRow.scan_result_id == scan_id)).all()
        assert operation.done
        if finish_refused:
            assert result.status == scanner_pb2.ScanResult.ERROR and stored == []
            assert operation.error.code == grpc.StatusCode.CANCELLED.value[0]
            assert store.jobs.of(scan_id)[0].status == "cancelled"
        else:
            assert result.status == scanner_pb2.ScanResult.READY and len(stored) == 1
            assert operation.WhichOneof("result") == "response"
            assert store.jobs.of(scan_id)[0].status == "done"
