"""RegistryService, RepositoryService and ImageService through both transports on both databases."""

from __future__ import annotations

import datetime as dt
import uuid

import grpc
import pytest
from google.protobuf import empty_pb2
from yandex.cloud.access import access_pb2
from yandex.cloud.containerregistry.v1 import image_service_pb2 as images
from yandex.cloud.containerregistry.v1 import registry_pb2
from yandex.cloud.containerregistry.v1 import registry_service_pb2 as registries
from yandex.cloud.containerregistry.v1 import repository_service_pb2 as repositories
from yandex.cloud.containerregistry.v1 import scanner_service_pb2 as ss
from yandex.cloud.operation import operation_service_pb2 as operations

from crscan.store import Layer
from tests.store.clients import client, fails, served  # noqa: F401  (fixtures)

INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


@pytest.fixture
def folder(served):
    """A folder of its own with three registries; the store is shared by the module's tests."""
    folder_id = "b1g" + uuid.uuid4().hex[:17]
    rows = [
        served.store.registries.add(name, f"https://{name}.{folder_id}.example", folder_id=folder_id,  # a host each
                                    labels={"team": name})
        for name in ("charlie", "alpha", "bravo")
    ]
    return folder_id, rows


@pytest.fixture
def registry_with_images(served, folder):
    """Registry "alpha" with repositories team/app (3 images) and team/db (1 image)."""
    registry = folder[1][1]
    app = served.store.repositories.add(registry.id, "team/app")
    db = served.store.repositories.add(registry.id, "team/db")
    made = []
    for i, (repository, tags) in enumerate([(app, ["1.0"]), (app, ["2.0", "latest"]), (app, []), (db, ["15"])]):
        made.append(served.store.images.add(
            repository.id, f"sha256:{i}{uuid.uuid4().hex}{'0' * 31}", tags=tags, config_digest="sha256:cfg",
            config_size=1500 + i, layers=[Layer("sha256:l1", 1000, GZIP), Layer(f"sha256:l{i + 2}", 10 * i, GZIP)],
            created_at=dt.datetime(2026, 1, 1) + dt.timedelta(days=i % 3),  # two images share a created_at
        ))
    return registry, app, db, made


def walk(client, service, method, request_type, field, page_size=2, **kwargs) -> list:
    items, token = [], ""
    while True:
        response = client(service, method, request_type(page_size=page_size, page_token=token, **kwargs))
        items += list(getattr(response, field))
        token = response.next_page_token
        if not token:
            return items


# ---- registries ---------------------------------------------------------------------------------------


def test_registry_get_maps_every_field(client, folder):
    folder_id, rows = folder
    got = client("registry", "Get", registries.GetRegistryRequest(registry_id=rows[0].id))
    assert (got.id, got.folder_id, got.name, got.status, dict(got.labels)) == (
        rows[0].id, folder_id, "charlie", registry_pb2.Registry.ACTIVE, {"team": "charlie"},
    )
    assert got.created_at.ToDatetime() == rows[0].created_at
    fails(lambda: client("registry", "Get", registries.GetRegistryRequest(registry_id="crpmissing")), NOT_FOUND,
          "registry crpmissing not found")
    fails(lambda: client("registry", "Get", registries.GetRegistryRequest(registry_id="crp/x")), INVALID,
          "registry_id is malformed")


def test_registry_list_is_per_folder_by_name_and_pages(client, folder, served):
    folder_id, _ = folder
    suffix = uuid.uuid4().hex[:6]  # the served store outlives one transport's run: a fresh host and folder each time
    served.store.registries.add("other", f"https://o{suffix}.example", folder_id="b1gsomeoneelse" + suffix)
    listed = walk(client, "registry", "List", registries.ListRegistriesRequest, "registries", folder_id=folder_id)
    assert [r.name for r in listed] == ["alpha", "bravo", "charlie"]
    named = client("registry", "List", registries.ListRegistriesRequest(folder_id=folder_id, filter='name="bravo"'))
    assert [r.name for r in named.registries] == ["bravo"]
    fails(lambda: client("registry", "List", registries.ListRegistriesRequest()), INVALID, "folder_id is required")
    fails(lambda: client("registry", "List", registries.ListRegistriesRequest(folder_id=folder_id, filter='id="x"')),
          INVALID, "unknown field 'id'")
    fails(lambda: client("registry", "List", registries.ListRegistriesRequest(folder_id=folder_id,
                                                                            filter='name="UPPER"')),
          INVALID, "invalid value 'UPPER' for name", "3-63 lowercase letters")
    fails(lambda: client("registry", "List", registries.ListRegistriesRequest(folder_id=folder_id, page_size=1001)),
          INVALID, "page_size")


def test_registry_mutations_point_to_the_cli(client, folder):
    for method, request in [
        ("Create", registries.CreateRegistryRequest(folder_id=folder[0], name="new")),
        ("Update", registries.UpdateRegistryRequest(registry_id=folder[1][0].id, name="renamed")),
        ("Delete", registries.DeleteRegistryRequest(registry_id=folder[1][0].id)),
    ]:
        failure = fails(lambda: client("registry", method, request), grpc.StatusCode.UNIMPLEMENTED,
                        "crscan registry add")
        assert failure.http_status in (None, 501)


def test_methods_outside_the_scope_are_unimplemented(client, folder):
    """Access bindings and repository upserts fall through to the generated base classes' UNIMPLEMENTED."""
    registry_id = folder[1][0].id
    for service, method, request in [
        ("registry", "ListAccessBindings", access_pb2.ListAccessBindingsRequest(resource_id=registry_id)),
        ("repository", "Upsert", repositories.UpsertRepositoryRequest(name=f"{registry_id}/new/repo")),
        ("repository", "Delete", repositories.DeleteRepositoryRequest(repository_id="crt123")),
    ]:
        failure = fails(lambda: client(service, method, request), grpc.StatusCode.UNIMPLEMENTED)
        assert failure.http_status in (None, 501)


# ---- repositories ------------------------------------------------------------------------------------


def test_repository_get_and_get_by_name(client, registry_with_images):
    registry, app, _, _ = registry_with_images
    by_id = client("repository", "Get", repositories.GetRepositoryRequest(repository_id=app.id))
    assert (by_id.id, by_id.name) == (app.id, f"{registry.id}/team/app")
    by_name = client("repository", "GetByName", repositories.GetRepositoryByNameRequest(repository_name=by_id.name))
    assert by_name == by_id
    fails(lambda: client("repository", "GetByName",
                         repositories.GetRepositoryByNameRequest(repository_name=f"{registry.id}/team/none")),
          NOT_FOUND, f"repository {registry.id}/team/none not found")
    fails(lambda: client("repository", "GetByName", repositories.GetRepositoryByNameRequest(repository_name="noslash")),
          INVALID, "repository_name 'noslash' is malformed")
    fails(lambda: client("repository", "Get", repositories.GetRepositoryRequest(repository_id="crt" + "0" * 60)),
          INVALID, "repository_id is too long")
    for hostile in (f"{registry.id}/Team/App", f"{registry.id}/team/app\x00", f"{registry.id}/../etc"):
        fails(lambda: client("repository", "GetByName", repositories.GetRepositoryByNameRequest(
            repository_name=hostile)), INVALID, "repository path may hold only")


def test_repository_list_by_registry_or_folder_with_filter_and_order(client, registry_with_images, folder):
    registry, app, db, _ = registry_with_images
    by_registry = walk(client, "repository", "List", repositories.ListRepositoriesRequest, "repositories",
                       page_size=1, registry_id=registry.id)
    assert [r.id for r in by_registry] == [app.id, db.id]
    descending = client("repository", "List", repositories.ListRepositoriesRequest(
        registry_id=registry.id, order_by="name desc"))
    assert [r.id for r in descending.repositories] == [db.id, app.id]
    by_folder = client("repository", "List", repositories.ListRepositoriesRequest(folder_id=folder[0]))
    assert [r.id for r in by_folder.repositories] == [app.id, db.id]
    named = client("repository", "List", repositories.ListRepositoriesRequest(
        folder_id=folder[0], filter=f'name="{registry.id}/team/db"'))
    assert [r.id for r in named.repositories] == [db.id]
    fails(lambda: client("repository", "List", repositories.ListRepositoriesRequest()), INVALID,
          "one of registry_id and folder_id is required")
    fails(lambda: client("repository", "List", repositories.ListRepositoriesRequest(registry_id="crpnothere")),
          NOT_FOUND, "registry crpnothere not found")
    fails(lambda: client("repository", "List", repositories.ListRepositoriesRequest(
        registry_id=registry.id, order_by="size")), INVALID, "unknown field 'size'")
    fails(lambda: client("repository", "List", repositories.ListRepositoriesRequest(
        registry_id=registry.id, filter='name="db"')), INVALID, "<registry id>/<repository path>")


# ---- images ------------------------------------------------------------------------------------------


def test_image_get_maps_blobs_tags_and_sizes(client, registry_with_images):
    registry, _, _, made = registry_with_images
    image = made[1]
    got = client("image", "Get", images.GetImageRequest(image_id=image.id))
    assert (got.id, got.name, got.digest, list(got.tags)) == (
        image.id, f"{registry.id}/team/app", image.digest, ["2.0", "latest"],
    )
    assert (got.config.digest, got.config.size, got.compressed_size) == ("sha256:cfg", 1501, 1010)
    assert [(layer.digest, layer.size) for layer in got.layers] == [("sha256:l1", 1000), ("sha256:l3", 10)]
    assert got.created_at.ToDatetime() == dt.datetime(2026, 1, 2)


def test_image_list_scopes_orders_and_pages(client, registry_with_images, folder):
    registry, app, db, made = registry_with_images
    by_repo = walk(client, "image", "List", images.ListImagesRequest, "images",
                   repository_name=f"{registry.id}/team/app")
    newest_first = sorted(made[:3], key=lambda i: (i.created_at, i.id), reverse=True)
    assert [i.id for i in by_repo] == [i.id for i in newest_first]
    oldest_first = walk(client, "image", "List", images.ListImagesRequest, "images", page_size=1,
                        registry_id=registry.id, order_by="createdAt asc")
    assert [i.id for i in oldest_first] == [i.id for i in sorted(made, key=lambda i: (i.created_at, i.id))]
    by_digest = walk(client, "image", "List", images.ListImagesRequest, "images", folder_id=folder[0],
                     order_by="digest")
    assert [i.digest for i in by_digest] == sorted(i.digest for i in made)
    named = client("image", "List", images.ListImagesRequest(registry_id=registry.id,
                                                              filter=f'name="{registry.id}/team/db"'))
    assert [i.id for i in named.images] == [made[3].id]
    fails(lambda: client("image", "List", images.ListImagesRequest()), INVALID,
          "one of repository_name, registry_id and folder_id is required")
    fails(lambda: client("image", "List", images.ListImagesRequest(repository_name=f"{registry.id}/nope")),
          NOT_FOUND, "not found")
    fails(lambda: client("image", "List", images.ListImagesRequest(registry_id=registry.id, order_by="last_modified")),
          INVALID, "unknown field 'last_modified'")


def test_image_delete_removes_it_with_its_scans(client, registry_with_images, served):
    image = registry_with_images[3][0]
    scan = client("scanner", "Scan", ss.ScanRequest(image_id=image.id))
    metadata = ss.ScanMetadata()
    scan.metadata.Unpack(metadata)
    operation = client("image", "Delete", images.DeleteImageRequest(image_id=image.id))
    deleted = images.DeleteImageMetadata()
    assert operation.done and operation.metadata.Unpack(deleted) and deleted.image_id == image.id
    assert operation.response.Unpack(empty_pb2.Empty())
    fails(lambda: client("image", "Get", images.GetImageRequest(image_id=image.id)), NOT_FOUND,
          f"image {image.id} not found")
    fails(lambda: client("scanner", "Get", ss.GetScanResultRequest(scan_result_id=metadata.scan_result_id)),
          NOT_FOUND, "scan result")
    aborted = client("operation", "Get", operations.GetOperationRequest(operation_id=scan.id))
    assert aborted.done and aborted.error.code == grpc.StatusCode.ABORTED.value[0]
    fails(lambda: client("image", "Delete", images.DeleteImageRequest(image_id=image.id)), NOT_FOUND)
