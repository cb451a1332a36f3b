"""The authorization matrix: every served method × every kind of caller → the status code, over gRPC (the
official SDK with `iam_token`) and REST (httpx). Requests name resources of registry "alpha"; the scoped caller
is an admin limited to registry "beta", so only its scope can refuse it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pool, message_factory
from yandex.cloud.containerregistry.v1 import (
    image_service_pb2,
    registry_service_pb2,
    repository_service_pb2,
    scan_policy_service_pb2,
    scanner_service_pb2,
)
from yandex.cloud.endpoint import api_endpoint_service_pb2
from yandex.cloud.iam.v1 import iam_token_service_pb2
from yandex.cloud.operation import operation_service_pb2

from crscan.api.endpoint import EndpointServicer
from crscan.api.grpc_server import bind_services
from crscan.api.iam import IamTokenServicer
from crscan.api.servicers import build_servicers
from crscan.auth import Role
from tests.auth.conftest import FOLDER, HTTP_STATUS, Failure, World

OK = grpc.StatusCode.OK
DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED
CR = "/yandex.cloud.containerregistry.v1."
OPERATIONS = "/yandex.cloud.operation.OperationService/"
ENDPOINTS = "/yandex.cloud.endpoint.ApiEndpointService/"
IAM = "/yandex.cloud.iam.v1.IamTokenService/"
CALLERS = ("none", "bad", "expired", "revoked", "viewer", "editor", "admin", "scoped_other")


@dataclass(frozen=True)
class Row:
    method: str
    role: Role | None  # least role allowed; None: public
    request: Callable[[World], object]
    allowed: grpc.StatusCode = OK  # what a caller with the role gets
    scoped: grpc.StatusCode = DENIED  # what an admin scoped to the other registry gets


def unimplemented(method: str, role: Role, **fields: str) -> Row:
    """Methods crscan does not serve answer UNIMPLEMENTED, but only to callers who may call them at all.
    `fields` name World attributes (alpha's resources) to put in the request."""
    descriptor = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    message_class = message_factory.GetMessageClass(descriptor.input_type)
    return Row(
        method, role, lambda w: message_class(**{k: getattr(w, v) for k, v in fields.items()}), UNIMPLEMENTED,
        UNIMPLEMENTED,
    )


sc, rg, rp, im = scanner_service_pb2, registry_service_pb2, repository_service_pb2, image_service_pb2
sp = scan_policy_service_pb2
V, E, A = Role.VIEWER, Role.EDITOR, Role.ADMIN
MATRIX = [
    Row(CR + "ScannerService/Scan", E, lambda w: sc.ScanRequest(image_id=w.alpha_image)),
    Row(CR + "ScannerService/Get", V, lambda w: sc.GetScanResultRequest(scan_result_id=w.alpha_scan)),
    Row(CR + "ScannerService/GetLast", V, lambda w: sc.GetLastScanResultRequest(image_id=w.alpha_image)),
    Row(CR + "ScannerService/List", V, lambda w: sc.ListScanResultsRequest(repository_id=w.alpha_repository)),
    Row(CR + "ScannerService/ListVulnerabilities", V,
        lambda w: sc.ListVulnerabilitiesRequest(scan_result_id=w.alpha_scan)),
    Row(OPERATIONS + "Get", V,
        lambda w: operation_service_pb2.GetOperationRequest(operation_id=w.alpha_scan_operation)),
    Row(OPERATIONS + "Cancel", E,
        lambda w: operation_service_pb2.CancelOperationRequest(operation_id=w.alpha_running_operation)),
    Row(CR + "RegistryService/Get", V, lambda w: rg.GetRegistryRequest(registry_id=w.alpha)),
    Row(CR + "RegistryService/List", V, lambda w: rg.ListRegistriesRequest(folder_id=FOLDER), scoped=OK),
    unimplemented(CR + "RegistryService/Create", A),
    unimplemented(CR + "RegistryService/Update", A, registry_id="alpha"),
    unimplemented(CR + "RegistryService/Delete", A, registry_id="alpha"),
    unimplemented(CR + "RegistryService/ForceDelete", A, registry_id="alpha"),
    unimplemented(CR + "RegistryService/ListAccessBindings", V, resource_id="alpha"),
    unimplemented(CR + "RegistryService/SetAccessBindings", A, resource_id="alpha"),
    unimplemented(CR + "RegistryService/UpdateAccessBindings", A, resource_id="alpha"),
    unimplemented(CR + "RegistryService/ListIpPermission", V, registry_id="alpha"),
    unimplemented(CR + "RegistryService/SetIpPermission", A, registry_id="alpha"),
    unimplemented(CR + "RegistryService/UpdateIpPermission", A, registry_id="alpha"),
    Row(CR + "RepositoryService/Get", V, lambda w: rp.GetRepositoryRequest(repository_id=w.alpha_repository)),
    Row(CR + "RepositoryService/GetByName", V,
        lambda w: rp.GetRepositoryByNameRequest(repository_name=w.alpha_repository_name)),
    Row(CR + "RepositoryService/List", V, lambda w: rp.ListRepositoriesRequest(registry_id=w.alpha)),
    unimplemented(CR + "RepositoryService/ListAccessBindings", V, resource_id="alpha_repository"),
    unimplemented(CR + "RepositoryService/SetAccessBindings", A, resource_id="alpha_repository"),
    unimplemented(CR + "RepositoryService/UpdateAccessBindings", A, resource_id="alpha_repository"),
    unimplemented(CR + "RepositoryService/Upsert", A, name="alpha_repository_name"),
    unimplemented(CR + "RepositoryService/Delete", A, repository_id="alpha_repository"),
    Row(CR + "ImageService/List", V, lambda w: im.ListImagesRequest(repository_name=w.alpha_repository_name)),
    Row(CR + "ImageService/Get", V, lambda w: im.GetImageRequest(image_id=w.alpha_image)),
    Row(CR + "ImageService/Delete", E, lambda w: im.DeleteImageRequest(image_id=w.fresh_image())),
    Row(CR + "ScanPolicyService/Get", V, lambda w: sp.GetScanPolicyRequest(scan_policy_id=w.alpha_policy)),
    Row(CR + "ScanPolicyService/GetByRegistry", V,
        lambda w: sp.GetScanPolicyByRegistryRequest(registry_id=w.alpha)),
    Row(CR + "ScanPolicyService/Create", E,
        lambda w: sp.CreateScanPolicyRequest(registry_id=w.fresh_registry(), name="nightly")),
    Row(CR + "ScanPolicyService/Update", E,
        lambda w: sp.UpdateScanPolicyRequest(scan_policy_id=w.alpha_policy, description="updated")),
    Row(CR + "ScanPolicyService/Delete", E, lambda w: sp.DeleteScanPolicyRequest(scan_policy_id=w.fresh_policy())),
    Row(ENDPOINTS + "List", None, lambda w: api_endpoint_service_pb2.ListApiEndpointsRequest(), scoped=OK),
    Row(ENDPOINTS + "Get", None, lambda w: api_endpoint_service_pb2.GetApiEndpointRequest(api_endpoint_id="crscan"),
        allowed=grpc.StatusCode.NOT_FOUND, scoped=grpc.StatusCode.NOT_FOUND),
    # Public: the body is the credential (tests/auth/test_iam.py covers the exchanges themselves).
    Row(IAM + "Create", None, lambda w: iam_token_service_pb2.CreateIamTokenRequest(jwt="not.a.jwt"),
        allowed=UNAUTHENTICATED, scoped=UNAUTHENTICATED),
    Row(IAM + "Revoke", None, lambda w: iam_token_service_pb2.RevokeIamTokenRequest(),
        allowed=grpc.StatusCode.INVALID_ARGUMENT, scoped=grpc.StatusCode.INVALID_ARGUMENT),
    Row(IAM + "CreateForServiceAccount", None,
        lambda w: iam_token_service_pb2.CreateIamTokenForServiceAccountRequest(service_account_id="crk"),
        allowed=UNIMPLEMENTED, scoped=UNIMPLEMENTED),
]


def has_rest_route(method: str) -> bool:
    descriptor = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    return descriptor.GetOptions().Extensions[annotations_pb2.http].WhichOneof("pattern") is not None


def expected(row: Row, caller: str) -> grpc.StatusCode:
    if row.role is None:
        return row.allowed
    if caller in ("none", "bad", "expired", "revoked"):
        return UNAUTHENTICATED
    if caller == "scoped_other":
        return row.scoped
    return row.allowed if Role[caller.upper()] >= row.role else DENIED


def test_the_matrix_covers_every_served_method():
    served = {
        binding.method_path(method.name)
        for binding in bind_services([*build_servicers(None), EndpointServicer("localhost:1"),
                                      IamTokenServicer(None, frozenset)])
        for method in binding.descriptor.methods
    }
    assert served == {row.method for row in MATRIX}


@pytest.mark.parametrize("transport", ["grpc", "rest"])
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.method.rpartition(".")[2])
def test_every_caller_gets_the_right_code(auth_api, row, transport):
    if transport == "rest" and not has_rest_route(row.method):
        pytest.skip("no google.api.http rule: the method is served over gRPC only")
    answers, wanted = {}, {}
    for caller in CALLERS:
        call = auth_api.caller(transport, auth_api.world.tokens[caller])
        wanted[caller] = expected(row, caller)
        try:
            call(row.method, row.request(auth_api.world))
            answers[caller] = OK
        except Failure as failure:
            answers[caller] = failure.code
            if transport == "rest" and failure.code in HTTP_STATUS:
                assert failure.http_status == HTTP_STATUS[failure.code], failure
    assert answers == wanted
