"""REST transcoding on the real servicers: routes from the protos' http rules, proto3 JSON, Status errors."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from crscan.model import Severity
from tests.api.conftest import seed_scanned_image

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
SCANS = "/container-registry/v1/scans"


def assert_status(response, http_status: int, code: int, *mentions: str) -> None:
    assert response.status_code == http_status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": response.headers["x-request-id"]}
    ]
    for word in mentions:
        assert word in body["message"], body["message"]


def test_scan_result_json_uses_proto3_mapping(api):
    seeded = seed_scanned_image(api.store)

    body = api.http.get(f"{SCANS}/{seeded.scan_result_id}").json()

    assert body["id"] == seeded.scan_result_id
    assert body["imageId"] == seeded.image_id  # lowerCamelCase
    assert body["status"] == "READY"  # enum by name
    assert body["vulnerabilities"] == {"critical": "1", "high": "1"}  # int64 as strings, zeros omitted
    assert RFC3339_UTC.match(body["scannedAt"]), body["scannedAt"]


def test_image_sizes_are_int64_strings(api):
    seeded = seed_scanned_image(api.store)
    body = api.http.get(f"/container-registry/v1/images/{seeded.image_id}").json()
    assert body["compressedSize"] == "3000000000"
    assert body["tags"] == ["1.0", "latest"]
    assert RFC3339_UTC.match(body["createdAt"])


def test_scan_operation_json_carries_typed_any_and_completes(api):
    seeded = seed_scanned_image(api.store)

    started = api.http.post(SCANS, json={"imageId": seeded.image_id})

    assert started.status_code == 200, started.text
    operation = started.json()
    assert operation["metadata"]["@type"] == "type.googleapis.com/yandex.cloud.containerregistry.v1.ScanMetadata"
    assert "done" not in operation  # false is the proto3 default
    assert RFC3339_UTC.match(operation["createdAt"])
    scan_result_id = operation["metadata"]["scanResultId"]
    api.store.scans.finish(scan_result_id, seeded.findings, {Severity.HIGH: 1, Severity.CRITICAL: 1}, "b", [])

    finished = api.http.get(f"/operations/{operation['id']}").json()

    assert finished["done"] is True
    assert finished["response"]["@type"] == "type.googleapis.com/yandex.cloud.containerregistry.v1.ScanResult"
    assert finished["response"]["id"] == scan_result_id
    assert finished["response"]["status"] == "READY"


def test_path_parameters_with_custom_verbs(api):
    seeded = seed_scanned_image(api.store)

    last = api.http.get(f"/container-registry/v1/images/{seeded.image_id}:lastScanResult")
    vulnerabilities = api.http.get(f"{SCANS}/{seeded.scan_result_id}:listVulnerabilities")
    # A repository name contains "/", so the client percent-encodes it inside the single path segment.
    by_name = api.http.get(f"/container-registry/v1/repositories/{quote(seeded.repository_name, safe='')}:byName")

    assert last.status_code == 200 and last.json()["id"] == seeded.scan_result_id
    listed = vulnerabilities.json()["vulnerabilities"]
    assert [(v["severity"], v["package"]["name"]) for v in listed] == [
        ("CRITICAL", "CVE-2024-0001"),
        ("HIGH", "CVE-2023-4911"),
    ]
    assert listed[1]["package"]["fixedBy"] == "2.36-9+deb12u3"
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["id"] == seeded.repository_id
    assert_status(api.http.get(f"/container-registry/v1/images/{seeded.image_id}:noSuchVerb"), 404, 5, "noSuchVerb")


def test_query_parameters_accept_camel_and_snake_case(api):
    seeded = seed_scanned_image(api.store)
    api.store.scans.start(seeded.image_id)

    camel = api.http.get(SCANS, params={"imageId": seeded.image_id, "pageSize": "1"}).json()
    snake = api.http.get(SCANS, params={"image_id": seeded.image_id, "page_size": "1"}).json()

    assert camel == snake
    assert len(camel["scanResults"]) == 1 and camel["nextPageToken"]
    rest = api.http.get(SCANS, params={"imageId": seeded.image_id, "pageToken": camel["nextPageToken"]}).json()
    assert len(rest["scanResults"]) == 1 and "nextPageToken" not in rest
    assert rest["scanResults"][0]["id"] != camel["scanResults"][0]["id"]


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ({"imageId": "crp0", "pageSize": "abc"}, ["pageSize", "abc"]),
        ({"imageId": "crp0", "colour": "red"}, ["colour"]),
        ({"imageId": "crp0", "pageSize": ["1", "2"]}, ["pageSize", "2 times"]),
        ({"imageId": "crp0", "pageSize": "99999999999999999999"}, ["pageSize"]),
    ],
)
def test_bad_query_values_are_400_naming_the_parameter(shared_api, query, mentions):
    assert_status(shared_api.http.get(SCANS, params=query), 400, 3, *mentions)


def test_bad_bodies_are_400(shared_api):
    assert_status(shared_api.http.post(SCANS, content=b'{"imageId": '), 400, 3, "not valid JSON")
    assert_status(shared_api.http.post(SCANS, content=b"\xff\xfe"), 400, 3, "not valid UTF-8")
    assert_status(shared_api.http.post(SCANS, json=["crp0"]), 400, 3, "JSON object")
    assert_status(shared_api.http.post(SCANS, json={"imageId": 42}), 400, 3, "imageId")
    assert_status(shared_api.http.post(SCANS, json={"imageID": "crp0"}), 400, 3, "imageID")
    assert_status(shared_api.http.post(SCANS, content=b"{}" + b" " * (1 << 20)), 400, 3, "larger than")
    assert_status(shared_api.http.post(SCANS, params={"imageId": "x"}, json={}), 400, 3, "imageId", "body")


def test_unknown_routes_and_methods_have_the_status_shape(shared_api):
    assert_status(shared_api.http.get("/container-registry/v2/scans"), 404, 5, "/container-registry/v2/scans")
    assert_status(shared_api.http.get("/"), 404, 5)
    assert_status(shared_api.http.get(SCANS + "/"), 404, 5)
    assert_status(shared_api.http.delete(SCANS), 405, 12, "GET", "POST")
    assert_status(shared_api.http.post("/healthz"), 404, 5)


def test_servicer_errors_map_to_http(shared_api):
    assert_status(shared_api.http.get(f"{SCANS}/che{'0' * 17}"), 404, 5)
    assert_status(shared_api.http.get(f"{SCANS}/{'c' * 51}"), 400, 3)
    assert_status(shared_api.http.get(SCANS), 400, 3)  # neither imageId nor repositoryId


def test_bearer_token_reaches_the_auth_hook_over_rest(api):
    seeded = seed_scanned_image(api.store)

    api.http.get(f"{SCANS}/{seeded.scan_result_id}", headers={"Authorization": "Bearer rest-token"})
    api.http.get(f"{SCANS}/{seeded.scan_result_id}")

    seen = [c for c in api.callers if c.method == "/yandex.cloud.containerregistry.v1.ScannerService/Get"]
    assert [(c.transport, c.bearer_token) for c in seen] == [("rest", "rest-token"), ("rest", None)]


def test_healthz(shared_api):
    response = shared_api.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_delete_and_cancel_routes_return_operations(api):
    seeded = seed_scanned_image(api.store)
    running = api.http.post(SCANS, json={"imageId": seeded.image_id}).json()

    cancelled = api.http.get(f"/operations/{running['id']}:cancel")
    deleted = api.http.delete(f"/container-registry/v1/images/{seeded.image_id}")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["done"] is True and cancelled.json()["error"]["code"] == 1  # CANCELLED
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert body["done"] is True
    assert body["metadata"] == {
        "@type": "type.googleapis.com/yandex.cloud.containerregistry.v1.DeleteImageMetadata",
        "imageId": seeded.image_id,
    }
    assert body["response"]["@type"] == "type.googleapis.com/google.protobuf.Empty"
    assert_status(api.http.get(f"/container-registry/v1/images/{seeded.image_id}"), 404, 5)
