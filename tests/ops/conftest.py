"""A real Store and a small real feed DB behind `ApiServer`, with the ops pages mounted as `crscan serve` mounts them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from crscan.api.auth import AllowAll
from crscan.api.messages import OPERATION_CODEC
from crscan.api.ops import ops_routes
from crscan.api.server import ApiServer
from crscan.api.servicers import build_servicers
from crscan.config import Settings
from crscan.store import Store
from crscan.vulndb import update
from tests.api.conftest import shared_api  # noqa: F401  (a seeded server for read-only checks)
from tests.vulndb.support import write_mirror

JINJA2_ADVISORY = {
    "id": "GHSA-h5c8-rqwp-cp95",
    "modified": "2024-01-11T00:00:00Z",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "jinja2"}, "versions": ["3.1.2"]}],
}


@pytest.fixture(scope="session")
def feed_db(tmp_path_factory) -> Path:
    """A feed DB built by the real builder from a one-advisory mirror."""
    root = tmp_path_factory.mktemp("ops-feeds")
    write_mirror(root / "mirror", osv={"PyPI": [JINJA2_ADVISORY]})
    return update(root / "feeds.db", mirror=root / "mirror").path


@dataclass
class OpsApi:
    server: ApiServer
    http: httpx.Client
    store: Store


@contextmanager
def ops_api(data_dir: Path, database_url: str, feed_db_path: Path) -> Iterator[OpsApi]:
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    settings = Settings.resolve({"data_dir": data_dir, "http_port": 0, "grpc_port": 0, "auth_enabled": False},
                                environ={})
    try:
        with ApiServer(settings, build_servicers(store), AllowAll(),
                       extra_pages=ops_routes(store, feed_db_path)) as server:
            with httpx.Client(base_url=server.http_url, timeout=30) as http:
                yield OpsApi(server, http, store)
    finally:
        store.close()
