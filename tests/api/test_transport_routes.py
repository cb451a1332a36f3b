"""Path templates from `google.api.http` rules: parsing, matching raw paths, and the route table of the protos."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yandex.cloud.endpoint.api_endpoint_service_pb2_grpc import ApiEndpointServiceServicer

from crscan.api.endpoint import EndpointServicer
from crscan.api.grpc_server import SERVICES, ServiceBindingError, bind_services
from crscan.api.routes import TemplateError, Variable, parse_template, routes_for


def test_parse_template_splits_literals_variables_and_verb():
    assert parse_template("/container-registry/v1/images/{image_id}:lastScanResult") == (
        ("container-registry", "v1", "images", Variable(("image_id",))),
        "lastScanResult",
    )
    assert parse_template("/operations/{operation_id}") == (("operations", Variable(("operation_id",))), "")
    assert parse_template("/v1/{parent.name=*}/items") == (("v1", Variable(("parent", "name")), "items"), "")


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("v1/scans", "must start with '/'"),
        ("/v1/{name=projects/*}", "multi-segment"),
        ("/v1/{name=**}", "multi-segment"),
        ("/v1/*/scans", "not supported"),
        ("/v1//scans", "not supported"),
    ],
)
def test_unsupported_templates_are_refused_by_name(template, problem):
    with pytest.raises(TemplateError, match=problem):
        parse_template(template)


def _bound_routes():
    """Every generated service the server knows, bound to a bare instance of its base class."""
    servicers = [base() for base in SERVICES if base is not ApiEndpointServiceServicer]
    return routes_for(bind_services([*servicers, EndpointServicer("localhost:1")]))


def test_route_table_covers_every_http_rule_of_the_served_protos():
    table = {(r.http_method, r.grpc_method.rsplit("/", 1)[1], r.verb) for r in _bound_routes()}
    expected_subset = {
        ("POST", "Scan", ""),
        ("GET", "Get", ""),
        ("GET", "GetLast", "lastScanResult"),
        ("GET", "ListVulnerabilities", "listVulnerabilities"),
        ("GET", "GetByName", "byName"),
        ("DELETE", "Delete", ""),
        ("GET", "Cancel", "cancel"),
        ("GET", "List", ""),
    }
    assert expected_subset <= table
    methods = {r.grpc_method for r in _bound_routes()}
    assert "/yandex.cloud.containerregistry.v1.RegistryService/ForceDelete" not in methods  # no http rule
    assert "/yandex.cloud.endpoint.ApiEndpointService/List" in methods


def test_matching_uses_raw_segments_and_separates_the_verb():
    routes = {r.grpc_method.rsplit(".", 1)[1]: r for r in _bound_routes() if r.http_method == "GET"}
    get_last = routes["ScannerService/GetLast"]
    get_image = routes["ImageService/Get"]
    by_name = routes["RepositoryService/GetByName"]

    assert get_last.match_path("/container-registry/v1/images/crp1:lastScanResult") == {("image_id",): "crp1"}
    assert get_image.match_path("/container-registry/v1/images/crp1:lastScanResult") is None  # raw ':' = verb
    assert get_image.match_path("/container-registry/v1/images/crp1") == {("image_id",): "crp1"}
    assert get_image.match_path("/container-registry/v1/images/") is None
    assert get_image.match_path("/container-registry/v1/images/crp1/x") is None
    assert by_name.match_path("/container-registry/v1/repositories/crp1%2Fteam%2Fapp:byName") == {
        ("repository_name",): "crp1/team/app"
    }


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_percent_encoded_value_round_trips_through_a_path_variable(value):
    get_image = next(r for r in _bound_routes() if r.grpc_method.endswith("ImageService/Get"))
    assert get_image.match_path(f"/container-registry/v1/images/{quote(value, safe='')}") == {("image_id",): value}


def test_bind_services_refuses_unknown_and_duplicate_servicers():
    with pytest.raises(ServiceBindingError, match="subclasses none"):
        bind_services([object()])
    endpoint = EndpointServicer("localhost:1")
    with pytest.raises(ServiceBindingError, match="two servicers"):
        bind_services([endpoint, EndpointServicer("localhost:2")])
