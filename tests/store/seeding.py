"""Builders for store contents that the store and API tests share."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, insert

from crscan import ids
from crscan.api.messages import OPERATION_CODEC
from crscan.model import Finding, LayerRef, Severity
from crscan.store import Layer, Store, schema

FOLDER = "b1gfolder0000000000"

_counter = itertools.count()


def migrated_store(database_url: str) -> Store:
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    return store


def add_image(store: Store, registry_id: str | None = None, repository: str = "library/debian", **kwargs):
    """An image (with a registry and repository made as needed); returns the image row."""
    if registry_id is None:
        name = f"reg{next(_counter)}"
        registry_id = store.registries.add(name, f"https://{name}.example", folder_id=FOLDER).id
    repo = store.repositories.add(registry_id, repository)
    digest = kwargs.pop("digest", f"sha256:{next(_counter):064x}")
    kwargs.setdefault("layers", [Layer(f"sha256:{'a' * 64}", 1000, "application/vnd.oci.image.layer.v1.tar+gzip")])
    return store.images.add(repo.id, digest, **kwargs)


def finding(name: str, severity: Severity, package: str = "openssl", **kwargs) -> Finding:
    values = dict(
        name=name,
        advisory_id=kwargs.pop("advisory_id", name),
        link=f"https://security-tracker.debian.org/tracker/{name}",
        package=package,
        source="dpkg",
        version="3.0.11-1~deb12u1",
        fixed_by="3.0.13-1~deb12u1",
        origin="os",
        type="debian",
        severity=severity,
        severity_source="debian",
        layer=LayerRef(digest="sha256:" + "a" * 64, diff_id="sha256:" + "b" * 64),
        path="/var/lib/dpkg/status",
    )
    values.update(kwargs)
    return Finding(**values)


def insert_scan_results(store: Store, image: schema.Image, rows: list[dict]) -> list[str]:
    """Scan results with given status / scanned_at / counts written directly, as many finished scans would
    leave them; returns their ids in input order."""
    values = []
    for row in rows:
        values.append(
            {
                "id": ids.new_id(ids.SCAN_RESULT),
                "image_id": image.id,
                "repository_id": image.repository_id,
                "feed_build_id": "",
                "warnings": [],
                "error_message": "",
                "created_at": row.get("scanned_at", dt.datetime(2026, 1, 1)),
                **{level: 0 for level in schema.SEVERITY_COLUMNS},
                **row,
            }
        )
    if values:
        with store.sessions.begin() as session:
            session.execute(insert(schema.ScanResult), values)
    return [v["id"] for v in values]


def scanned_image(store: Store) -> tuple[schema.Image, str, list[Finding]]:
    """An image with one READY scan carrying a critical and a high finding; returns (image, scan id, findings)."""
    image = add_image(store)
    scan_id = store.operations.get(store.scans.start(image.id).id).resource_id
    findings = [
        finding("CVE-2023-4911", Severity.HIGH, package="libc6", version="2.36-9", fixed_by="2.36-9+deb12u3"),
        finding("CVE-2024-0001", Severity.CRITICAL, package="openssl", fixed_by=""),
    ]
    store.scans.finish(scan_id, findings, {Severity.HIGH: 1, Severity.CRITICAL: 1}, "build-1", [])
    return image, scan_id, findings


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL text of every statement the store's engine runs meanwhile (parameters, i.e. ids, left out; the
    store generation's read bypasses the engine)."""
    seen: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
