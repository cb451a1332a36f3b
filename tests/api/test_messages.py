"""The store's own enums against the wire's: the numbers the store keeps must be the API's numbers."""

from yandex.cloud.containerregistry.v1 import scanner_pb2

from crscan.api.messages import OPERATION_ERROR_CODES
from crscan.store import OperationError, ScanStatus


def test_scan_status_numbers_are_the_api_numbers():
    assert {status.name: status.value for status in ScanStatus} == dict(scanner_pb2.ScanResult.Status.items())


def test_every_operation_error_has_a_grpc_code():
    assert set(OPERATION_ERROR_CODES) == set(OperationError)
