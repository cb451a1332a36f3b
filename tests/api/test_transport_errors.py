"""How both transports render servicer outcomes, using a probe servicer that fails on demand.

The real servicers cannot produce every status code at will; this one raises whatever the request names, so
the gRPC status and the REST `google.rpc.Status` mapping are checked for every code.
"""

from __future__ import annotations

import logging
import re

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from yandex.cloud.containerregistry.v1 import (
    registry_service_pb2,
    registry_service_pb2_grpc,
    scanner_pb2,
    scanner_service_pb2,
    scanner_service_pb2_grpc,
)

from crscan.api.auth import current_caller
from crscan.api.errors import ApiError
from tests.api.conftest import TOKEN, running_api

# The mapping the design fixes (architecture.md + issue 2); CANCELLED uses the de-facto 499.
HTTP_FOR_CODE = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


class ProbeScanner(scanner_service_pb2_grpc.ScannerServiceServicer):
    """Get fails as `scan_result_id` says; List reports who the auth hook said the caller is."""

    def Get(self, request, context):
        instruction = request.scan_result_id
        if instruction in grpc.StatusCode.__members__:
            raise ApiError(grpc.StatusCode[instruction], f"probe says {instruction}")
        if instruction == "crash":
            raise RuntimeError("secret internal detail")
        if instruction == "abort":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "aborted by the servicer itself")
        if instruction == "set-code":
            context.set_code(grpc.StatusCode.FAILED_PRECONDITION)
            context.set_details("code set by the servicer itself")
        return scanner_pb2.ScanResult(id=instruction)

    def List(self, request, context):
        caller = current_caller()
        return scanner_service_pb2.ListScanResultsResponse(
            next_page_token=f"{caller.credentials.transport}:{caller.credentials.bearer_token}"
        )


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("probe"), [ProbeScanner()]) as running:
        yield running


def grpc_get(probe, instruction: str) -> grpc.RpcError:
    scanner = probe.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    with pytest.raises(grpc.RpcError) as failure:
        scanner.Get(scanner_service_pb2.GetScanResultRequest(scan_result_id=instruction))
    return failure.value


def rest_get(probe, instruction: str, headers: dict[str, str] | None = None):
    return probe.http.get(f"/container-registry/v1/scans/{instruction}", headers=headers)


def grpc_request_info(error: grpc.RpcError) -> error_details_pb2.RequestInfo:
    """The `RequestInfo` in the `google.rpc.Status` a grpc-status aware client reads from the trailers."""
    status = status_pb2.Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])
    assert (status.code, status.message) == (error.code().value[0], error.details())
    (detail,) = status.details
    info = error_details_pb2.RequestInfo()
    assert detail.Unpack(info), detail.type_url
    return info


@pytest.mark.parametrize("code", list(HTTP_FOR_CODE), ids=lambda c: c.name)
def test_api_errors_keep_code_and_message_on_both_transports(probe, code):
    over_grpc = grpc_get(probe, code.name)
    over_rest = rest_get(probe, code.name)

    assert (over_grpc.code(), over_grpc.details()) == (code, f"probe says {code.name}")
    assert over_rest.status_code == HTTP_FOR_CODE[code]
    request_id = over_rest.headers["x-request-id"]
    assert over_rest.json() == {
        "code": code.value[0],
        "message": f"probe says {code.name}",
        "details": [{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": request_id}],
    }
    assert grpc_request_info(over_grpc).request_id == dict(over_grpc.trailing_metadata())["x-request-id"]


def test_unexpected_exceptions_become_internal_without_leaking_details(probe, caplog):
    with caplog.at_level(logging.ERROR, logger="crscan"):
        over_grpc = grpc_get(probe, "crash")
        over_rest = rest_get(probe, "crash")

    assert over_grpc.code() == grpc.StatusCode.INTERNAL
    assert over_rest.status_code == 500 and over_rest.json()["code"] == 13
    for message in (over_grpc.details(), over_rest.json()["message"]):
        assert "secret" not in message and "log" in message
    logged = [r for r in caplog.records if r.exc_info and "secret internal detail" in str(r.exc_info[1])]
    assert len(logged) == 2, "each crash is logged once with its traceback"


def test_servicer_level_abort_and_set_code_are_honoured(probe):
    assert grpc_get(probe, "abort").code() == grpc.StatusCode.PERMISSION_DENIED
    assert rest_get(probe, "abort").json()["code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]
    over_grpc = grpc_get(probe, "set-code")
    assert (over_grpc.code(), over_grpc.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "code set by the servicer itself",
    )
    over_rest = rest_get(probe, "set-code")
    assert over_rest.status_code == 400
    assert over_rest.json()["message"] == "code set by the servicer itself"


def test_methods_the_servicer_does_not_override_are_unimplemented(probe):
    scanner = probe.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    with pytest.raises(grpc.RpcError) as over_grpc:
        scanner.GetLast(scanner_service_pb2.GetLastScanResultRequest(image_id="crp0"))
    over_rest = probe.http.get("/container-registry/v1/images/crp0:lastScanResult")

    assert over_grpc.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert over_rest.status_code == 501 and "GetLast" in over_rest.json()["message"]


def test_services_without_a_servicer_are_absent_from_both_transports(probe):
    registries = probe.sdk.client(registry_service_pb2_grpc.RegistryServiceStub)
    with pytest.raises(grpc.RpcError) as over_grpc:
        registries.List(registry_service_pb2.ListRegistriesRequest(folder_id="f"))
    assert over_grpc.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert probe.http.get("/container-registry/v1/registries").status_code == 404


def test_servicers_see_the_caller_through_current_caller(probe):
    scanner = probe.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    over_grpc = scanner.List(scanner_service_pb2.ListScanResultsRequest())
    over_rest = probe.http.get("/container-registry/v1/scans", headers={"authorization": "Bearer from-rest"})
    anonymous = probe.http.get("/container-registry/v1/scans", headers={"authorization": "Basic dXNlcjpwdw=="})

    assert over_grpc.next_page_token == f"grpc:{TOKEN}"
    assert over_rest.json()["nextPageToken"] == "rest:from-rest"
    assert anonymous.json()["nextPageToken"] == "rest:None"


def test_current_caller_outside_a_request_is_an_error():
    with pytest.raises(RuntimeError, match="outside a request"):
        current_caller()


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_every_call_gets_a_request_id_in_the_trailer_header_and_log(probe, caplog):
    scanner = probe.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    with caplog.at_level(logging.INFO, logger="crscan.api.calls"):
        _, call = scanner.Get.with_call(scanner_service_pb2.GetScanResultRequest(scan_result_id="fine"))
        over_rest = rest_get(probe, "fine")
        missed = probe.http.get("/no/such/route")

    over_grpc = dict(call.trailing_metadata())["x-request-id"]
    assert UUID.match(over_grpc) and UUID.match(over_rest.headers["x-request-id"])
    assert over_grpc != over_rest.headers["x-request-id"]
    assert over_rest.status_code == 200
    assert missed.status_code == 404
    assert missed.json()["details"][0]["requestId"] == missed.headers["x-request-id"]
    logged = {r.getMessage() for r in caplog.records if r.name == "crscan.api.calls"}
    for transport, request_id in (("grpc", over_grpc), ("rest", over_rest.headers["x-request-id"])):
        (line,) = [m for m in logged if request_id in m]
        assert line.startswith(f"{transport} /yandex.cloud.containerregistry.v1.ScannerService/Get OK ")


def test_failures_name_their_request_in_the_log(probe, caplog):
    with caplog.at_level(logging.INFO, logger="crscan.api.calls"):
        failed = rest_get(probe, "NOT_FOUND")
    request_id = failed.headers["x-request-id"]
    assert any(request_id in r.getMessage() and " NOT_FOUND " in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("given", ["trace-7f3a/01:req_42", "x" * 128])
def test_a_sane_incoming_request_id_is_honoured(probe, given):
    failed = grpc_get_with(probe, "NOT_FOUND", given)
    assert dict(failed.trailing_metadata())["x-request-id"] == given
    assert grpc_request_info(failed).request_id == given
    over_rest = rest_get(probe, "NOT_FOUND", headers={"x-request-id": given})
    assert over_rest.headers["x-request-id"] == given
    assert over_rest.json()["details"][0]["requestId"] == given


# Only values a client library will send: gRPC and httpx refuse control characters and non-ASCII themselves.
@pytest.mark.parametrize("given", ["x" * 129, "two words", ""])
def test_an_insane_incoming_request_id_is_replaced(probe, given):
    failed = grpc_get_with(probe, "NOT_FOUND", given)
    assert UUID.match(dict(failed.trailing_metadata())["x-request-id"])
    assert UUID.match(grpc_request_info(failed).request_id)
    over_rest = rest_get(probe, "NOT_FOUND", headers={"x-request-id": given})
    assert UUID.match(over_rest.headers["x-request-id"])


def test_a_servicer_abort_still_names_the_request(probe):
    failed = grpc_get(probe, "abort")
    assert grpc_request_info(failed).request_id == dict(failed.trailing_metadata())["x-request-id"]
    over_rest = rest_get(probe, "abort")
    assert over_rest.json()["details"][0]["requestId"] == over_rest.headers["x-request-id"]


def grpc_get_with(probe, instruction: str, request_id: str) -> grpc.RpcError:
    scanner = probe.sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
    with pytest.raises(grpc.RpcError) as failure:
        scanner.Get(
            scanner_service_pb2.GetScanResultRequest(scan_result_id=instruction),
            metadata=(("x-request-id", request_id),),
        )
    return failure.value
