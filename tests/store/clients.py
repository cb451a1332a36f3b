"""One way to call the served API over either transport, for tests/api/test_{scanner,resources,paging}_*.

`client(service, method, request)` sends a generated request message and returns the generated response
message; a failure raises `Failure` with the gRPC status code (REST: the `code` of the `google.rpc.Status`
JSON body). gRPC goes through the official SDK's stubs; REST through httpx at the URL the method's
`google.api.http` rule names, with proto3 JSON on the wire.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import grpc
import pytest
from google.api import annotations_pb2
from google.protobuf import json_format, message_factory
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
from yandex.cloud.operation import operation_service_pb2, operation_service_pb2_grpc

from crscan.api.messages import OPERATION_CODEC
from crscan.api.servicers import build_servicers
from crscan.store import Store
from tests.api.conftest import TOKEN, running_api
from tests.support.postgres import backend_url

SERVICES = {
    "scanner": (scanner_service_pb2_grpc.ScannerServiceStub, scanner_service_pb2, "ScannerService"),
    "operation": (operation_service_pb2_grpc.OperationServiceStub, operation_service_pb2, "OperationService"),
    "registry": (registry_service_pb2_grpc.RegistryServiceStub, registry_service_pb2, "RegistryService"),
    "repository": (repository_service_pb2_grpc.RepositoryServiceStub, repository_service_pb2, "RepositoryService"),
    "image": (image_service_pb2_grpc.ImageServiceStub, image_service_pb2, "ImageService"),
}
CODES = {code.value[0]: code for code in grpc.StatusCode}


class Failure(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, http_status: int | None = None):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status  # None: the failure came over gRPC


def rest_names(fragment: str) -> str:
    """A message fragment written with proto field names, as REST renders it: unquoted snake_case names in
    lowerCamelCase (proto3 JSON names), quoted caller input untouched."""
    parts = re.split(r"('[^']*')", fragment)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b",
                          lambda m: re.sub(r"_([a-z0-9])", lambda c: c.group(1).upper(), m.group()), parts[i])
    return "".join(parts)


class GrpcClient:
    transport = "grpc"

    def __init__(self, sdk):
        self._sdk = sdk
        self._stubs = {}

    def __call__(self, service: str, method: str, request):
        if service not in self._stubs:
            self._stubs[service] = self._sdk.client(SERVICES[service][0])
        try:
            return getattr(self._stubs[service], method)(request)
        except grpc.RpcError as exc:
            raise Failure(exc.code(), exc.details()) from None


class RestClient:
    transport = "rest"

    def __init__(self, http):
        self._http = http

    def __call__(self, service: str, method: str, request):
        _, module, name = SERVICES[service]
        descriptor = module.DESCRIPTOR.services_by_name[name].methods_by_name[method]
        rule = descriptor.GetOptions().Extensions[annotations_pb2.http]
        verb = rule.WhichOneof("pattern")
        path = getattr(rule, verb)
        fields = json_format.MessageToDict(request)
        for field in request.DESCRIPTOR.fields:
            if "{" + field.name + "}" in path:
                value = getattr(request, field.name)
                if not value:
                    pytest.skip(f"REST cannot express an empty path variable {field.name}")
                path = path.replace("{" + field.name + "}", quote(value, safe=""))
                fields.pop(field.json_name, None)
        body = fields if rule.body == "*" else None
        params = None if rule.body == "*" else fields
        response = self._http.request(
            verb.upper(), path, params=params, json=body, headers={"authorization": f"Bearer {TOKEN}"}
        )
        if response.status_code != 200:
            error = response.json()
            raise Failure(CODES[error["code"]], error["message"], response.status_code)
        return json_format.ParseDict(response.json(), message_factory.GetMessageClass(descriptor.output_type)())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    """Both transports (tests/api/conftest.py's `running_api`) on one migrated store per module and backend;
    starting servers per test would dominate the run, so tests isolate themselves by seeding their own rows."""
    directory = tmp_path_factory.mktemp("served")
    store = Store(backend_url(request, directory), OPERATION_CODEC)
    store.migrate()
    try:
        with running_api(directory / "data", build_servicers(store), store) as running:
            yield running
    finally:
        store.close()


@pytest.fixture(params=["grpc", "rest"])
def client(request, served):
    """The served API through one transport."""
    return GrpcClient(served.sdk) if request.param == "grpc" else RestClient(served.http)


def fails(call, code: grpc.StatusCode, *fragments: str) -> Failure:
    """Run `call`, expect a Failure with `code` whose message contains every fragment (written with proto field
    names; over REST, with their JSON names)."""
    with pytest.raises(Failure) as caught:
        call()
    failure = caught.value
    assert failure.code == code, failure
    for fragment in fragments:
        expected = fragment if failure.http_status is None else rest_names(fragment)
        assert expected in failure.message, failure
    return failure
