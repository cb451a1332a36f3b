"""ImageService.Delete against a real docker-registry: the manifest goes from the registry (so no sync brings the
image back), and a registry that refuses deletes leaves everything as it was (FAILED_PRECONDITION)."""

from __future__ import annotations

import grpc
import httpx
import pytest
from cryptography.fernet import Fernet
from yandex.cloud.containerregistry.v1 import image_service_pb2, image_service_pb2_grpc

from crscan.api.messages import OPERATION_CODEC
from crscan.api.servicers import build_servicers
from crscan.secrets import SecretBox
from crscan.store import Store
from crscan.sync import open_view, sync_registry
from tests.api.conftest import running_api
from tests.support.registry import start_registry
from tests.sync.conftest import attach, snapshot
from tests.sync.tiny_images import OCI_MANIFEST, Pusher


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    yield store
    store.close()


def pushed_and_synced(store: Store, box: SecretBox, registry) -> tuple[str, dict, str]:
    """(registry row id, the image pushed as team/app:1.0 and :latest, its image id) after a sync saw it."""
    pusher = Pusher(registry.url)
    try:
        pushed = pusher.image("team/app", "1.0", "delete-me")
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": pushed["config"],
                    "layers": pushed["layers"]}
        assert pusher.manifest("team/app", "latest", document, OCI_MANIFEST) == pushed["digest"]
    finally:
        pusher.close()
    row = attach(store, registry)
    sync(store, row.id, box)
    (image_id,) = [fields["id"] for fields in snapshot(store, row.id).values()]
    return row.id, pushed, image_id


def sync(store: Store, registry_id: str, box: SecretBox) -> None:
    row = store.registries.get(registry_id)
    view = open_view(row, box)
    try:
        sync_registry(store, row, view)
    finally:
        view.close()


def manifest_status(registry, reference: str) -> int:
    return httpx.get(f"{registry.url}/v2/team/app/manifests/{reference}", headers={"Accept": OCI_MANIFEST}
                     ).status_code


def delete_over_sdk(api, image_id: str):
    images = api.sdk.client(image_service_pb2_grpc.ImageServiceStub)
    return images.Delete(image_service_pb2.DeleteImageRequest(image_id=image_id))


def test_delete_removes_the_manifest_and_its_tags_so_a_sync_does_not_bring_it_back(store, tmp_path):
    box = SecretBox(Fernet.generate_key(), "test key")
    registry = start_registry()
    try:
        registry_id, pushed, image_id = pushed_and_synced(store, box, registry)
        with running_api(tmp_path / "data", build_servicers(store, box=box), store) as api:
            operation = delete_over_sdk(api, image_id)
        assert operation.done and not operation.HasField("error")
        for reference in (pushed["digest"], "1.0", "latest"):
            assert manifest_status(registry, reference) == 404, reference
        sync(store, registry_id, box)
        assert snapshot(store, registry_id) == {}  # not brought back under a new id
    finally:
        registry.stop()


def test_a_registry_that_refuses_deletes_gives_failed_precondition_and_nothing_is_lost(store, tmp_path):
    box = SecretBox(Fernet.generate_key(), "test key")
    registry = start_registry(delete=False)
    try:
        _, pushed, image_id = pushed_and_synced(store, box, registry)
        scan = store.scans.start(image_id)
        with running_api(tmp_path / "data", build_servicers(store, box=box), store) as api:
            with pytest.raises(grpc.RpcError) as refused:
                delete_over_sdk(api, image_id)
            over_rest = api.http.delete(f"/container-registry/v1/images/{image_id}")
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "refuses deletes" in refused.value.details() and "storage.delete.enabled" in refused.value.details()
        assert over_rest.status_code == 400 and over_rest.json()["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
        assert store.images.get(image_id).digest == pushed["digest"]  # crscan's row and scan history stay
        assert store.operations.get(scan.id).resource_id  # the scan is still there
        for reference in (pushed["digest"], "1.0", "latest"):
            assert manifest_status(registry, reference) == 200, reference
    finally:
        registry.stop()
