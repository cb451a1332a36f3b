"""Fixtures for the scanning service: the session's feed DB file, and images of the local registry in a store."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan.api.messages import OPERATION_CODEC
from crscan.store import Layer, Store, schema
from tests.support.images import TestImage
from tests.support.registry import RunningRegistry
from tests.vulndb.support import shared_feed_db

FOLDER = "b1gfolder"


@pytest.fixture(scope="session")
def feed_db_path(tmp_path_factory, shared_data) -> Path:
    """The feed DB `crscan db update` builds from the whole shared mirror (built once per session)."""
    return shared_feed_db(tmp_path_factory, shared_data)


@pytest.fixture
def store(database_url):
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    yield store
    store.close()


def register(store: Store, registry: RunningRegistry, image: TestImage, *, digest: str | None = None) -> schema.Image:
    """The pushed test image as `registry sync` would record it (registry made on first use)."""
    url = f"http://{registry.host}"
    with store.sessions() as session:
        row = session.query(schema.Registry).filter_by(url=url).first()
    registry_id = row.id if row else store.registries.add(f"local{registry.port}", url, folder_id=FOLDER).id
    repository = store.repositories.add(registry_id, image.repository)
    return store.images.add(
        repository.id, digest or image.pushed_digest, tags=[image.tag_ref.rsplit(":", 1)[1]],
        layers=[Layer(f"sha256:{'0' * 64}", 1)],
    )
