"""The unchanged official SDK against the real server: endpoint discovery over TLS, calls, operations, auth hook."""

from __future__ import annotations

import grpc
import pytest
import yandexcloud
from yandex.cloud.containerregistry.v1 import scanner_pb2, scanner_service_pb2, scanner_service_pb2_grpc
from yandex.cloud.containerregistry.v1.image_service_pb2 import GetImageRequest
from yandex.cloud.containerregistry.v1.image_service_pb2_grpc import ImageServiceStub
from yandex.cloud.endpoint.api_endpoint_service_pb2 import GetApiEndpointRequest, ListApiEndpointsRequest
from yandex.cloud.endpoint.api_endpoint_service_pb2_grpc import ApiEndpointServiceStub
from yandex.cloud.operation.operation_service_pb2 import CancelOperationRequest
from yandex.cloud.operation.operation_service_pb2_grpc import OperationServiceStub
from yandexcloud.operations import OperationError

from crscan.model import Severity
from tests.api.conftest import TOKEN, seed_scanned_image


def test_sdk_discovers_every_service_at_this_server(api):
    endpoints = api.sdk.client(ApiEndpointServiceStub).List(ListApiEndpointsRequest())
    assert {e.id: e.address for e in endpoints.endpoints} == dict.fromkeys(
        ("container-registry", "operation", "iam", "endpoint"), api.server.public_address
    )
    one = api.sdk.client(ApiEndpointServiceStub).Get(GetApiEndpointRequest(api_endpoint_id="operation"))
    assert one.address == api.server.public_address
    with pytest.raises(grpc.RpcError) as missing:
        api.sdk.client(ApiEndpointServiceStub).Get(GetApiEndpointRequest(api_endpoint_id="compute"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert "compute" in missing.value.details()


def test_sdk_reads_a_scan_result_and_the_bearer_token_reaches_the_auth_hook(api):
    seeded = seed_scanned_image(api.store)
    scanner = api.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)

    result = scanner.Get(scanner_service_pb2.GetScanResultRequest(scan_result_id=seeded.scan_result_id))

    assert result.id == seeded.scan_result_id
    assert result.image_id == seeded.image_id
    assert result.status == scanner_pb2.ScanResult.READY
    assert (result.vulnerabilities.critical, result.vulnerabilities.high) == (1, 1)
    get = [c for c in api.callers if c.method == "/yandex.cloud.containerregistry.v1.ScannerService/Get"]
    assert [(c.transport, c.bearer_token) for c in get] == [("grpc", TOKEN)]
    # Endpoint discovery is public: the SDK sends no token for it and the hook is not consulted.
    assert not [c for c in api.callers if c.service == "yandex.cloud.endpoint.ApiEndpointService"]


def test_scan_operation_completes_through_wait_operation_and_get_result(api):
    seeded = seed_scanned_image(api.store)
    scanner = api.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)

    operation = scanner.Scan(scanner_service_pb2.ScanRequest(image_id=seeded.image_id))
    assert not operation.done
    meta = scanner_service_pb2.ScanMetadata()
    assert operation.metadata.Unpack(meta)
    # The pipeline lands later; finish the queued scan through the store as a worker would.
    api.store.scans.finish(meta.scan_result_id, seeded.findings[:1], {Severity.HIGH: 1}, "build-2", [])

    outcome = api.sdk.wait_operation_and_get_result(
        operation, response_type=scanner_pb2.ScanResult, meta_type=scanner_service_pb2.ScanMetadata, timeout=30
    )

    assert outcome.meta.scan_result_id == meta.scan_result_id
    assert outcome.response.id == meta.scan_result_id
    assert outcome.response.status == scanner_pb2.ScanResult.READY
    assert outcome.response.vulnerabilities.high == 1


def test_cancelled_scan_surfaces_as_operation_error_in_the_sdk(api):
    seeded = seed_scanned_image(api.store)
    operation = api.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub).Scan(
        scanner_service_pb2.ScanRequest(image_id=seeded.image_id)
    )
    cancelled = api.sdk.client(OperationServiceStub).Cancel(CancelOperationRequest(operation_id=operation.id))
    assert cancelled.done and cancelled.error.code == grpc.StatusCode.CANCELLED.value[0]

    with pytest.raises(OperationError):
        api.sdk.wait_operation_and_get_result(operation, response_type=scanner_pb2.ScanResult, timeout=30)


def test_servicer_errors_arrive_as_grpc_statuses(api):
    images = api.sdk.client(ImageServiceStub)
    with pytest.raises(grpc.RpcError) as unknown:
        images.Get(GetImageRequest(image_id="crp" + "0" * 17))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as malformed:
        images.Get(GetImageRequest(image_id="x" * 51))
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_tls_is_required_and_verified(api, tmp_path):
    """A plaintext client cannot talk to the gRPC port, nor a TLS client that does not trust the CA."""
    address = api.server.public_address
    request = ListApiEndpointsRequest()
    with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as plaintext:
        ApiEndpointServiceStub(channel).List(request, timeout=5)
    assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE

    with grpc.secure_channel(address, grpc.ssl_channel_credentials()) as channel:
        with pytest.raises(grpc.RpcError) as untrusted:
            ApiEndpointServiceStub(channel).List(request, timeout=5)
    assert untrusted.value.code() == grpc.StatusCode.UNAVAILABLE


def test_sdk_can_reach_the_server_by_loopback_ip(api):
    """The generated certificate also names 127.0.0.1, so an IP endpoint verifies too."""
    port = api.server.grpc_port
    sdk = yandexcloud.SDK(endpoint=f"127.0.0.1:{port}", iam_token=TOKEN, root_certificates=api.ca)
    listed = sdk.client(ApiEndpointServiceStub).List(ListApiEndpointsRequest())
    assert {e.address for e in listed.endpoints} == {f"localhost:{port}"}
