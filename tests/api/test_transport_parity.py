"""The same request over gRPC (official SDK) and REST (httpx) yields the same message, field by field."""

from __future__ import annotations

from urllib.parse import quote

import grpc
import pytest
from google.protobuf import json_format
from yandex.cloud.containerregistry.v1 import (
    image_service_pb2,
    image_service_pb2_grpc,
    registry_service_pb2,
    registry_service_pb2_grpc,
    repository_service_pb2,
    repository_service_pb2_grpc,
    scanner_service_pb2,
    scanner_service_pb2_grpc,
)
from yandex.cloud.operation import operation_pb2, operation_service_pb2, operation_service_pb2_grpc

from tests.api.conftest import seed_scanned_image


def assert_same(grpc_message, rest_response) -> None:
    assert rest_response.status_code == 200, rest_response.text
    rest_json = rest_response.json()
    # Field by field in the JSON form (what a REST client sees) ...
    assert rest_json == json_format.MessageToDict(grpc_message)
    # ... and as messages, so nothing the JSON mapping could blur (int64, enums, timestamps) differs.
    rest_message = json_format.ParseDict(rest_json, type(grpc_message)())
    assert rest_message == grpc_message
    assert rest_message.ListFields(), "compared an empty message"


def test_every_read_method_answers_the_same_over_both_transports(api):
    seeded = seed_scanned_image(api.store)
    operation = api.store.scans.start(seeded.image_id)
    scanner = api.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    images = api.sdk.client(image_service_pb2_grpc.ImageServiceStub)
    registries = api.sdk.client(registry_service_pb2_grpc.RegistryServiceStub)
    repositories = api.sdk.client(repository_service_pb2_grpc.RepositoryServiceStub)
    operations = api.sdk.client(operation_service_pb2_grpc.OperationServiceStub)
    http = api.http

    assert_same(
        scanner.Get(scanner_service_pb2.GetScanResultRequest(scan_result_id=seeded.scan_result_id)),
        http.get(f"/container-registry/v1/scans/{seeded.scan_result_id}"),
    )
    assert_same(
        scanner.GetLast(scanner_service_pb2.GetLastScanResultRequest(image_id=seeded.image_id)),
        http.get(f"/container-registry/v1/images/{seeded.image_id}:lastScanResult"),
    )
    assert_same(
        scanner.List(scanner_service_pb2.ListScanResultsRequest(image_id=seeded.image_id, order_by="status")),
        http.get("/container-registry/v1/scans", params={"imageId": seeded.image_id, "orderBy": "status"}),
    )
    assert_same(
        scanner.ListVulnerabilities(
            scanner_service_pb2.ListVulnerabilitiesRequest(scan_result_id=seeded.scan_result_id, order_by="name")
        ),
        http.get(f"/container-registry/v1/scans/{seeded.scan_result_id}:listVulnerabilities?orderBy=name"),
    )
    assert_same(
        images.Get(image_service_pb2.GetImageRequest(image_id=seeded.image_id)),
        http.get(f"/container-registry/v1/images/{seeded.image_id}"),
    )
    assert_same(
        images.List(image_service_pb2.ListImagesRequest(repository_name=seeded.repository_name)),
        http.get("/container-registry/v1/images", params={"repositoryName": seeded.repository_name}),
    )
    assert_same(
        registries.Get(registry_service_pb2.GetRegistryRequest(registry_id=seeded.registry_id)),
        http.get(f"/container-registry/v1/registries/{seeded.registry_id}"),
    )
    assert_same(
        registries.List(registry_service_pb2.ListRegistriesRequest(folder_id="b1gfolder")),
        http.get("/container-registry/v1/registries", params={"folderId": "b1gfolder"}),
    )
    assert_same(
        repositories.GetByName(repository_service_pb2.GetRepositoryByNameRequest(repository_name=seeded.repository_name)),
        http.get(f"/container-registry/v1/repositories/{quote(seeded.repository_name, safe='')}:byName"),
    )
    assert_same(
        repositories.List(repository_service_pb2.ListRepositoriesRequest(registry_id=seeded.registry_id)),
        http.get("/container-registry/v1/repositories", params={"registryId": seeded.registry_id}),
    )
    running = operations.Get(operation_service_pb2.GetOperationRequest(operation_id=operation.id))
    assert isinstance(running, operation_pb2.Operation) and not running.done
    assert_same(running, http.get(f"/operations/{operation.id}"))


def test_errors_carry_the_same_code_and_message_over_both_transports(api):
    scanner = api.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    request = scanner_service_pb2.ListScanResultsRequest(image_id="crp0", filter='status="BOGUS"')
    with pytest.raises(grpc.RpcError) as over_grpc:
        scanner.List(request)
    over_rest = api.http.get("/container-registry/v1/scans", params={"imageId": "crp0", "filter": 'status="BOGUS"'})

    assert over_rest.json()["code"] == over_grpc.value.code().value[0] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert over_rest.json()["message"] == over_grpc.value.details()


def test_rest_messages_name_fields_in_lower_camel_case_and_grpc_keeps_proto_names(api):
    scanner = api.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    with pytest.raises(grpc.RpcError) as over_grpc:
        scanner.List(scanner_service_pb2.ListScanResultsRequest())
    over_rest = api.http.get("/container-registry/v1/scans")

    assert over_grpc.value.details() == "exactly one of image_id and repository_id must be set"
    assert over_rest.json()["message"] == "exactly one of imageId and repositoryId must be set"
    images = api.http.get("/container-registry/v1/images")
    assert images.json()["message"].startswith("one of repositoryName, registryId and folderId is required (")


def test_rest_messages_keep_quoted_caller_input_verbatim(api):
    # The caller's own text is echoed in quotes and must not be rewritten, even when it looks like a field name.
    response = api.http.get("/container-registry/v1/scans", params={"image_id": "x", "order_by": "scan_result_id"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("orderBy: unknown field 'scan_result_id';"), message
