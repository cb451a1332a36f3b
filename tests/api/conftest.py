"""The API served for real: both transports in-process on free ports, the official SDK and httpx as clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yandexcloud

from crscan.api.auth import AllowAll, Caller, Credentials
from crscan.api.messages import OPERATION_CODEC
from crscan.api.server import ApiServer
from crscan.api.servicers import build_servicers
from crscan.config import Settings
from crscan.model import Finding, Severity
from crscan.store import Layer, Store

TOKEN = "t1.test-iam-token"


class RecordingAuthenticator(AllowAll):
    """The auth hook as configured by `--no-auth`, remembering every request's credentials for assertions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[Credentials] = []

    def authenticate(self, credentials: Credentials) -> Caller:
        with self._lock:
            self.seen.append(credentials)
        return super().authenticate(credentials)


@dataclass
class RunningApi:
    server: ApiServer
    sdk: yandexcloud.SDK
    http: httpx.Client
    store: Store | None
    auth: RecordingAuthenticator
    ca: bytes = field(repr=False)

    @property
    def callers(self) -> list[Credentials]:
        return list(self.auth.seen)


@contextmanager
def running_api(data_dir: Path, servicers: Sequence[object], store: Store | None = None) -> Iterator[RunningApi]:
    settings = Settings.resolve(
        {"data_dir": data_dir, "http_port": 0, "grpc_port": 0, "auth_enabled": False}, environ={}
    )
    auth = RecordingAuthenticator()
    with ApiServer(settings, servicers, auth) as server:
        ca = server.tls.ca_file.read_bytes()
        sdk = yandexcloud.SDK(endpoint=server.public_address, iam_token=TOKEN, root_certificates=ca)
        with httpx.Client(base_url=server.http_url, timeout=30) as http:
            yield RunningApi(server=server, sdk=sdk, http=http, store=store, auth=auth, ca=ca)


@pytest.fixture
def api(database_url, tmp_path) -> Iterator[RunningApi]:
    """The real servicers on a migrated Store, on SQLite and on PostgreSQL."""
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    try:
        with running_api(tmp_path / "data", build_servicers(store), store) as running:
            yield running
    finally:
        store.close()


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory) -> Iterator[RunningApi]:
    """Real servicers on one seeded SQLite store, for a module's tests of pure transport behaviour.

    Tests that write, or whose answer depends on the backend, use `api` instead.
    """
    directory = tmp_path_factory.mktemp("shared-api")
    store = Store(f"sqlite:///{directory / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    seed_scanned_image(store)
    try:
        with running_api(directory / "data", build_servicers(store), store) as running:
            yield running
    finally:
        store.close()


@dataclass(frozen=True)
class Seeded:
    registry_id: str
    repository_id: str
    repository_name: str  # "<registry id>/<name>", the form GetByName takes
    image_id: str
    scan_result_id: str  # READY, with findings
    findings: tuple[Finding, ...]


def seed_scanned_image(store: Store) -> Seeded:
    """A registry, repository and image with one finished scan carrying two findings, written through the store."""
    registry = store.registries.add("main", "registry.example:5000", folder_id="b1gfolder")
    repository = store.repositories.add(registry.id, "team/app")
    image = store.images.add(
        repository.id,
        "sha256:" + "ab" * 32,
        tags=["1.0", "latest"],
        layers=[Layer(digest="sha256:" + "cd" * 32, size=3_000_000_000, media_type=GZIP_LAYER)],
    )
    operation = store.scans.start(image.id)
    scan_result_id = store.operations.get(operation.id).resource_id
    findings = (
        _finding("CVE-2023-4911", Severity.HIGH, "libc6", "2.36-9", "2.36-9+deb12u3"),
        _finding("CVE-2024-0001", Severity.CRITICAL, "openssl", "3.0.11-1", ""),
    )
    store.scans.finish(scan_result_id, findings, {Severity.HIGH: 1, Severity.CRITICAL: 1}, "build-1", [])
    return Seeded(registry.id, repository.id, f"{registry.id}/team/app", image.id, scan_result_id, findings)


GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _finding(name: str, severity: Severity, package: str, version: str, fixed_by: str) -> Finding:
    return Finding(
        name=name,
        advisory_id=name,
        link=f"https://security-tracker.debian.org/tracker/{name}",
        package=package,
        source="dpkg",
        version=version,
        fixed_by=fixed_by,
        origin="os",
        type="debian",
        severity=severity,
        severity_source="debian",
        feed="debian",
    )
