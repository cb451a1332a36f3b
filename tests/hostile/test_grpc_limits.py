"""gRPC requests are capped like REST bodies: an oversized message is refused and the server keeps serving."""

from __future__ import annotations

import grpc
import pytest
from yandex.cloud.containerregistry.v1 import scanner_service_pb2, scanner_service_pb2_grpc

from crscan.api.grpc_server import MAX_REQUEST_BYTES
from crscan.api.messages import OPERATION_CODEC
from crscan.api.servicers import build_servicers
from crscan.store import Store
from tests.api.conftest import running_api, seed_scanned_image


@pytest.fixture
def sqlite_api(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    try:
        with running_api(tmp_path / "data", build_servicers(store), store) as running:
            yield running
    finally:
        store.close()


def list_request(filter_bytes: int) -> scanner_service_pb2.ListScanResultsRequest:
    return scanner_service_pb2.ListScanResultsRequest(image_id="crpimage0000000000", filter="x" * filter_bytes)


def test_a_request_over_the_cap_is_resource_exhausted_and_the_server_keeps_serving(sqlite_api):
    seeded = seed_scanned_image(sqlite_api.store)
    scanner = sqlite_api.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    assert list_request(MAX_REQUEST_BYTES).ByteSize() > MAX_REQUEST_BYTES

    with pytest.raises(grpc.RpcError) as refused:
        scanner.List(list_request(MAX_REQUEST_BYTES))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(MAX_REQUEST_BYTES) in refused.value.details()

    # Just under the cap the request reaches the servicer, whose own bound on filters answers it.
    with pytest.raises(grpc.RpcError) as parsed:
        scanner.List(list_request(MAX_REQUEST_BYTES - 100))
    assert parsed.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    result = scanner.Get(scanner_service_pb2.GetScanResultRequest(scan_result_id=seeded.scan_result_id))
    assert result.id == seeded.scan_result_id
