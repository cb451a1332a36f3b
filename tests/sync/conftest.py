"""Stores and attached registries for the sync tests."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from crscan.api.messages import OPERATION_CODEC
from crscan.secrets import SecretBox
from crscan.store import Store, schema
from crscan.sync import DistributionView, open_view
from tests.sync.tiny_images import Pusher


@pytest.fixture
def store(database_url):
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key(), "test key")


@pytest.fixture
def pusher(scratch_registry):
    pusher = Pusher(scratch_registry.url)
    yield pusher
    pusher.close()


def attach(store: Store, registry, name: str = "scratch", box: SecretBox | None = None):
    password = box.encrypt(registry.password) if box and registry.password else None
    return store.registries.add(name, registry.url, folder_id="default", insecure=True,
                           username=registry.username, encrypted_password=password)


def view_of(row, box: SecretBox, page_size: int = 100) -> DistributionView:
    view = open_view(row, box)
    view.page_size = page_size
    return view


def snapshot(store: Store, registry_id: str) -> dict[tuple[str, str], dict]:
    """{(repository, digest): image fields} as stored, layers as (digest, size, media type)."""
    with store.sessions() as session:
        rows = session.scalars(
            select(schema.Image).join(schema.Repository).where(schema.Repository.registry_id == registry_id)
        ).all()
        return {
            (row.repository.name, row.digest): {
                "id": row.id, "tags": sorted(row.tags), "config_digest": row.config_digest,
                "config_size": row.config_size, "compressed_size": row.compressed_size,
                "layers": [(layer.digest, layer.size, layer.media_type) for layer in row.layers],
            }
            for row in rows
        }


def repositories(store: Store, registry_id: str) -> set[str]:
    with store.sessions() as session:
        return set(session.scalars(
            select(schema.Repository.name).where(schema.Repository.registry_id == registry_id)))
