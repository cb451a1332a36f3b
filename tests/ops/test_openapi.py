"""`/openapi.json` validates as OpenAPI 3.0, covers every route the transcoder serves, and maps types as proto3 JSON does."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from jsonschema import Draft4Validator
from yandex.cloud.containerregistry.v1 import scanner_pb2, scanner_service_pb2

from crscan.api.endpoint import EndpointServicer
from crscan.api.grpc_server import bind_services
from crscan.api.iam import IamTokenServicer
from crscan.api.openapi import build_document
from crscan.api.routes import routes_for
from crscan.api.servicers import build_servicers

SCHEMAS = "#/components/schemas/"


@pytest.fixture(scope="module")
def served(shared_api):
    """The document as the running server serves it, and the routes its transcoder dispatches."""
    iam = IamTokenServicer(None, frozenset)  # type: ignore[abstract]  # served as ApiServer composes it
    routes = routes_for(bind_services([*build_servicers(shared_api.store), EndpointServicer("localhost:1"), iam]))
    answer = shared_api.http.get("/openapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    return answer.json(), routes


def test_document_validates_against_the_openapi_30_schema(served):
    document, _ = served
    validate(document)
    assert document["openapi"].startswith("3.0")


def test_every_transcoder_route_is_documented_with_its_method(served):
    document, routes = served
    documented = {(path, method.upper()) for path, methods in document["paths"].items() for method in methods}
    expected = set()
    for route in routes:
        template = "/" + "/".join(s if isinstance(s, str) else "{" + ".".join(s.field_path) + "}" for s in route.segments)
        expected.add((template + (f":{route.verb}" if route.verb else ""), route.http_method))
    assert documented == expected
    assert ("/container-registry/v1/scans/{scan_result_id}:listVulnerabilities", "GET") in documented
    assert ("/operations/{operation_id}", "GET") in documented


def test_every_documented_path_is_answered_by_the_server_not_404_for_no_route(served, shared_api):
    document, _ = served
    for path, methods in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method in methods:
            answer = shared_api.http.request(method.upper(), concrete)
            assert not answer.text.startswith('{"code":5,"message":"no route'), (method, path)


def test_get_parameters_are_path_variables_plus_the_request_scalars(served):
    document, _ = served
    listing = document["paths"]["/container-registry/v1/scans/{scan_result_id}:listVulnerabilities"]["get"]
    by_name = {p["name"]: p for p in listing["parameters"]}
    assert by_name["scan_result_id"] == {"name": "scan_result_id", "in": "path", "required": True,
                                         "schema": {"type": "string"}}
    request = scanner_service_pb2.ListVulnerabilitiesRequest.DESCRIPTOR
    expected_query = {f.json_name for f in request.fields if f.name != "scan_result_id"}
    assert {n for n, p in by_name.items() if p["in"] == "query"} == expected_query
    assert by_name["pageSize"]["schema"] == {"type": "string", "format": "int64"}  # int64 travels as a string


def test_post_with_body_star_takes_the_request_message_and_no_query(served):
    document, _ = served
    scan = document["paths"]["/container-registry/v1/scans"]["post"]
    assert "parameters" not in scan
    assert scan["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": SCHEMAS + "yandex.cloud.containerregistry.v1.ScanRequest"
    }
    assert scan["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == SCHEMAS + "yandex.cloud.operation.Operation"


def test_schemas_follow_the_proto3_json_mapping(served):
    schemas = served[0]["components"]["schemas"]
    result = schemas["yandex.cloud.containerregistry.v1.ScanResult"]["properties"]
    assert result["scannedAt"] == {"type": "string", "format": "date-time"}
    status_names = [v.name for v in scanner_pb2.ScanResult.DESCRIPTOR.enum_types_by_name["Status"].values]
    assert result["status"] == {"type": "string", "enum": status_names}
    assert "READY" in status_names
    counts = schemas["yandex.cloud.containerregistry.v1.VulnerabilityStats"]["properties"]
    assert counts["critical"] == {"type": "string", "format": "int64"}
    operation = schemas["yandex.cloud.operation.Operation"]["properties"]
    assert operation["metadata"] == {"$ref": SCHEMAS + "google.protobuf.Any"}
    assert operation["error"] == {"$ref": SCHEMAS + "google.rpc.Status"}
    assert schemas["google.protobuf.Any"]["required"] == ["@type"]
    assert schemas["google.rpc.Status"]["properties"]["details"]["items"] == {"$ref": SCHEMAS + "google.protobuf.Any"}


def test_every_reference_resolves(served):
    document = served[0]
    text = repr(document)
    for name in set(re.findall(r"#/components/schemas/([\w.]+)", text)):
        assert name in document["components"]["schemas"], name


def test_a_real_response_matches_its_documented_schema(served, shared_api):
    """A seeded scan result as REST returns it has only documented properties, each of the documented type."""
    document, _ = served
    seeded = shared_api.http.get("/container-registry/v1/scans", params={"repositoryId": _repository_id(shared_api)})
    result = seeded.json()["scanResults"][0]
    assert result["vulnerabilities"]  # the seeded counts are there to be checked
    root = {"components": {"schemas": _closed(document["components"]["schemas"])}}
    validator = Draft4Validator(root | {"$ref": SCHEMAS + "yandex.cloud.containerregistry.v1.ScanResult"})
    validator.validate(result)
    assert not validator.is_valid(result | {"undocumented": 1})  # the check has teeth
    assert not validator.is_valid(result | {"vulnerabilities": {"critical": 1}})  # int64 must be a string


def _repository_id(shared_api) -> str:
    registry = shared_api.http.get("/container-registry/v1/registries", params={"folderId": "b1gfolder"})
    registry_id = registry.json()["registries"][0]["id"]
    repositories = shared_api.http.get("/container-registry/v1/repositories", params={"registryId": registry_id})
    return repositories.json()["repositories"][0]["id"]


def _closed(schemas: dict) -> dict:
    """The schemas with every documented object refusing undocumented properties (Any stays open)."""
    return {
        name: schema | {"additionalProperties": False}
        if schema.get("type") == "object" and "properties" in schema and name != "google.protobuf.Any"
        else schema
        for name, schema in schemas.items()
    }


def test_docs_page_is_self_contained(shared_api):
    answer = shared_api.http.get("/docs")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert 'fetch("openapi.json", ' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no CDN: works air-gapped
    assert "innerHTML" not in page  # document text is never interpreted as markup
    assert "default-src 'self'" in answer.headers["content-security-policy"]


def test_building_is_deterministic():
    bindings = bind_services([*build_servicers(None), EndpointServicer("localhost:1")])
    assert build_document(routes_for(bindings)) == build_document(routes_for(bindings))
