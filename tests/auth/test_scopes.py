"""Registry scopes on lists and page tokens: a scoped token pages through exactly its registries' resources
(the filter is in the SQL, so pages stay full and complete), cannot reach other registries through any list
argument, and cannot use a page token another caller was given. Both backends, both transports."""

from __future__ import annotations

import uuid

import grpc
import pytest
from yandex.cloud.containerregistry.v1 import (
    image_service_pb2,
    registry_service_pb2,
    repository_service_pb2,
    scanner_service_pb2,
)
from yandex.cloud.operation import operation_service_pb2

from crscan.auth import Role, SqlTokenRepository, TokenService
from crscan.store import Layer, Store
from tests.auth.conftest import FOLDER, Failure, issue, start_auth_api
from tests.store.seeding import statements
from tests.support.postgres import backend_url

CR = "/yandex.cloud.containerregistry.v1."


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scoped_api(request, tmp_path_factory):
    """The seeded world plus a third registry; registries alpha and gamma get 3 repositories of 2 images."""
    directory = tmp_path_factory.mktemp("scopes")
    for api in start_auth_api(directory / "data", backend_url(request, directory)):
        world = api.world
        gamma = api.store.registries.add("gamma", "gamma.example", folder_id=FOLDER).id
        for registry_id in (world.alpha, world.beta, gamma):
            for index in range(3):
                repository = api.store.repositories.add(registry_id, f"svc/app{index}")
                for digest in ("11", "22"):
                    layers = [Layer("sha256:" + "cd" * 32, 1)]
                    api.store.images.add(repository.id, "sha256:" + digest * 32, layers=layers)
        service = TokenService(SqlTokenRepository(api.store))
        world.tokens["alpha_gamma"] = issue(service, Role.VIEWER, registries=[world.alpha, gamma])
        world.tokens["viewer_2"] = issue(service, Role.VIEWER)
        world.gamma = gamma
        yield api


@pytest.fixture(params=["grpc", "rest"])
def transport(request):
    return request.param


def page_through(call, method: str, request, items: str) -> list[str]:
    """Every item's id across all pages of a list call."""
    seen = []
    while True:
        response = call(method, request)
        seen += [item.id for item in getattr(response, items)]
        if not response.next_page_token:
            return seen
        request.page_token = response.next_page_token


def registry_of_rows(store: Store, model, registry_ids) -> set[str]:
    from crscan.store import schema

    with store.sessions() as session:
        query = session.query(model.id)
        if model is schema.Registry:
            query = query.filter(model.id.in_(registry_ids))
        elif model is schema.Repository:
            query = query.filter(model.registry_id.in_(registry_ids))
        else:
            query = query.join(schema.Repository).filter(schema.Repository.registry_id.in_(registry_ids))
        return {row for (row,) in query}


def test_scoped_lists_hold_exactly_the_scope(scoped_api, transport):
    from crscan.store import schema

    world = scoped_api.world
    scope = {world.alpha, world.gamma}
    call = scoped_api.caller(transport, world.tokens["alpha_gamma"])
    everyone = scoped_api.caller(transport, world.tokens["viewer"])
    cases = [
        (CR + "RegistryService/List", registry_service_pb2.ListRegistriesRequest, "registries", schema.Registry),
        (CR + "RepositoryService/List", repository_service_pb2.ListRepositoriesRequest, "repositories",
         schema.Repository),
        (CR + "ImageService/List", image_service_pb2.ListImagesRequest, "images", schema.Image),
    ]
    for method, request_class, items, model in cases:
        listed = page_through(call, method, request_class(folder_id=FOLDER, page_size=2), items)
        assert len(listed) == len(set(listed))
        assert set(listed) == registry_of_rows(scoped_api.store, model, scope), method
        unscoped = page_through(everyone, method, request_class(folder_id=FOLDER, page_size=2), items)
        assert set(listed) < set(unscoped)  # the other registries' items exist and were left out


def test_no_list_argument_reaches_another_registry(scoped_api, transport):
    world = scoped_api.world
    call = scoped_api.caller(transport, world.tokens["alpha_gamma"])
    beta_name = f"{world.beta}/team/app"
    refused = [
        (CR + "RepositoryService/List", repository_service_pb2.ListRepositoriesRequest(registry_id=world.beta)),
        (CR + "ImageService/List", image_service_pb2.ListImagesRequest(registry_id=world.beta)),
        (CR + "ImageService/List", image_service_pb2.ListImagesRequest(repository_name=beta_name)),
        (CR + "ScannerService/List", scanner_service_pb2.ListScanResultsRequest(repository_id=world.beta_repository)),
        (CR + "ScannerService/List", scanner_service_pb2.ListScanResultsRequest(image_id=world.beta_image)),
        (CR + "ScannerService/ListVulnerabilities",
         scanner_service_pb2.ListVulnerabilitiesRequest(scan_result_id=world.beta_scan)),
        (CR + "ScannerService/GetLast", scanner_service_pb2.GetLastScanResultRequest(image_id=world.beta_image)),
        (CR + "RepositoryService/GetByName",
         repository_service_pb2.GetRepositoryByNameRequest(repository_name=beta_name)),
    ]
    for method, request in refused:
        with pytest.raises(Failure) as caught:
            call(method, request)
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED, (method, caught.value)
    # A name filter naming another registry's repository inside an allowed folder list finds nothing.
    filtered = call(CR + "RepositoryService/List", repository_service_pb2.ListRepositoriesRequest(
        folder_id=FOLDER, filter=f'name="{beta_name}"'))
    assert list(filtered.repositories) == []
    images = call(CR + "ImageService/List", image_service_pb2.ListImagesRequest(
        folder_id=FOLDER, filter=f'name="{beta_name}"'))
    assert list(images.images) == []


def test_a_scoped_caller_cannot_tell_missing_from_forbidden(scoped_api, transport):
    world = scoped_api.world
    scoped = scoped_api.caller(transport, world.tokens["alpha_gamma"])
    unscoped = scoped_api.caller(transport, world.tokens["viewer"])
    missing = "crp" + "0" * 17
    for image_id in (world.beta_image, missing):
        with pytest.raises(Failure) as caught:
            scoped(CR + "ImageService/Get", image_service_pb2.GetImageRequest(image_id=image_id))
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert caught.value.message == f"image {image_id} is not in a registry this token may access"
    with pytest.raises(Failure) as caught:
        unscoped(CR + "ImageService/Get", image_service_pb2.GetImageRequest(image_id=missing))
    assert caught.value.code == grpc.StatusCode.NOT_FOUND


def test_operations_follow_their_scan_and_delete_operations_stay_private(scoped_api, transport):
    world = scoped_api.world
    store = scoped_api.store
    scoped = scoped_api.caller(transport, world.tokens["alpha_gamma"])
    own = store.scans.start(_image_of(store, world.gamma))
    other = store.scans.start(_image_of(store, world.beta))
    got = scoped("/yandex.cloud.operation.OperationService/Get", operation_service_pb2.GetOperationRequest(
        operation_id=own.id))
    assert got.id == own.id
    for operation_id in (other.id, store.images.delete(_image_of(store, world.gamma)).id):
        with pytest.raises(Failure) as caught:
            scoped("/yandex.cloud.operation.OperationService/Get",
                   operation_service_pb2.GetOperationRequest(operation_id=operation_id))
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED


def _image_of(store: Store, registry_id: str) -> str:
    repository = store.repositories.find(registry_id, "svc/app1")
    return store.images.add(repository.id, "sha256:" + uuid.uuid4().hex * 2).id


def test_page_tokens_are_bound_to_the_caller(scoped_api, transport):
    world = scoped_api.world
    method = CR + "RegistryService/List"
    first = scoped_api.caller(transport, world.tokens["viewer"])
    response = first(method, registry_service_pb2.ListRegistriesRequest(folder_id=FOLDER, page_size=1))
    token = response.next_page_token
    assert token
    second_page = first(method, registry_service_pb2.ListRegistriesRequest(
        folder_id=FOLDER, page_size=1, page_token=token))
    assert second_page.registries[0].id != response.registries[0].id
    for other in ("viewer_2", "alpha_gamma", "admin"):
        call = scoped_api.caller(transport, world.tokens[other])
        with pytest.raises(Failure) as caught:
            call(method, registry_service_pb2.ListRegistriesRequest(folder_id=FOLDER, page_size=1, page_token=token))
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT, other
        field = "page_token" if transport == "grpc" else "pageToken"  # REST messages use JSON names
        assert f"{field} is not valid for this request" in caught.value.message


def test_a_scoped_token_works_inside_its_registries(scoped_api, transport):
    world, store = scoped_api.world, scoped_api.store
    service = TokenService(SqlTokenRepository(store))
    call = scoped_api.caller(transport, issue(service, Role.EDITOR, registries=[world.alpha]))
    reads = [
        (CR + "RegistryService/Get", registry_service_pb2.GetRegistryRequest(registry_id=world.alpha)),
        (CR + "RepositoryService/List", repository_service_pb2.ListRepositoriesRequest(registry_id=world.alpha)),
        (CR + "RepositoryService/GetByName",
         repository_service_pb2.GetRepositoryByNameRequest(repository_name=world.alpha_repository_name)),
        (CR + "ImageService/List", image_service_pb2.ListImagesRequest(repository_name=world.alpha_repository_name)),
        (CR + "ImageService/Get", image_service_pb2.GetImageRequest(image_id=world.alpha_image)),
        (CR + "ScannerService/GetLast", scanner_service_pb2.GetLastScanResultRequest(image_id=world.alpha_image)),
        (CR + "ScannerService/List", scanner_service_pb2.ListScanResultsRequest(image_id=world.alpha_image)),
        (CR + "ScannerService/ListVulnerabilities",
         scanner_service_pb2.ListVulnerabilitiesRequest(scan_result_id=world.alpha_scan)),
    ]
    for method, request in reads:
        call(method, request)  # raises Failure if refused
    operation = call(CR + "ScannerService/Scan", scanner_service_pb2.ScanRequest(image_id=world.alpha_image))
    assert operation.created_by.startswith("token:crk")
    got = call("/yandex.cloud.operation.OperationService/Get",
               operation_service_pb2.GetOperationRequest(operation_id=operation.id))
    assert got.id == operation.id
    deleted = call(CR + "ImageService/Delete", image_service_pb2.DeleteImageRequest(image_id=world.fresh_image()))
    assert deleted.done


GETS = {  # method → (request factory, the beta resource it asks for)
    "/yandex.cloud.operation.OperationService/Get":
        lambda rid: operation_service_pb2.GetOperationRequest(operation_id=rid),
    CR + "ImageService/Get": lambda rid: image_service_pb2.GetImageRequest(image_id=rid),
    CR + "RepositoryService/Get": lambda rid: repository_service_pb2.GetRepositoryRequest(repository_id=rid),
    CR + "RegistryService/Get": lambda rid: registry_service_pb2.GetRegistryRequest(registry_id=rid),
    CR + "ScannerService/Get": lambda rid: scanner_service_pb2.GetScanResultRequest(scan_result_id=rid),
}


@pytest.mark.parametrize("method", list(GETS))
def test_another_registrys_object_and_a_missing_one_cost_the_same_queries(scoped_api, method):
    world, store = scoped_api.world, scoped_api.store
    elsewhere = {
        "OperationService": lambda: store.scans.start(_image_of(store, world.beta)).id,
        "ImageService": lambda: world.beta_image,
        "RepositoryService": lambda: world.beta_repository,
        "RegistryService": lambda: world.beta,
        "ScannerService": lambda: world.beta_scan,
    }[method.rsplit("/", 2)[-2].rsplit(".", 1)[-1]]()
    missing = elsewhere[:3] + "0" * (len(elsewhere) - 3)
    scoped = scoped_api.caller("grpc", world.tokens["alpha_gamma"])
    answers = {}
    for label in ("warm-up", "elsewhere", "missing"):
        resource_id = missing if label == "missing" else elsewhere
        with statements(store) as seen, pytest.raises(Failure) as caught:
            scoped(method, GETS[method](resource_id))
        answers[label] = (caught.value.code, caught.value.message.replace(resource_id, "<id>"), seen)
    assert answers["elsewhere"][0] == grpc.StatusCode.PERMISSION_DENIED
    assert answers["elsewhere"] == answers["missing"]
    assert answers["elsewhere"][2], "the listener saw no statement"
