"""ScannerService and OperationService through the real servers (gRPC via the SDK, REST via httpx), on
SQLite and PostgreSQL: every method, the scan lifecycle, and every ID rule."""

from __future__ import annotations

import threading

import grpc
import pytest
from google.protobuf import json_format
from yandex.cloud.containerregistry.v1 import scanner_pb2
from yandex.cloud.containerregistry.v1 import scanner_service_pb2 as ss
from yandex.cloud.containerregistry.v1.scanner_service_pb2_grpc import ScannerServiceStub
from yandex.cloud.operation import operation_service_pb2 as ops

from crscan.model import Severity
from tests.api.conftest import TOKEN
from tests.store.clients import RestClient, client, fails, served  # noqa: F401  (fixtures)
from tests.store.seeding import add_image, finding, scanned_image

INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
RUNNING, READY, ERROR = scanner_pb2.ScanResult.RUNNING, scanner_pb2.ScanResult.READY, scanner_pb2.ScanResult.ERROR


def start(client, image_id):
    operation = client("scanner", "Scan", ss.ScanRequest(image_id=image_id))
    metadata = ss.ScanMetadata()
    assert operation.metadata.Unpack(metadata)
    return operation, metadata.scan_result_id


def test_scan_returns_a_pending_operation_and_a_running_result(served, client):
    image = add_image(served.store)
    operation, scan_id = start(client, image.id)
    assert (operation.done, operation.description) == (False, "Scan image")
    assert operation.id.startswith("cro") and scan_id.startswith("che")
    result = client("scanner", "Get", ss.GetScanResultRequest(scan_result_id=scan_id))
    assert (result.id, result.image_id, result.status) == (scan_id, image.id, RUNNING)
    assert not result.HasField("scanned_at")
    assert [job.status for job in served.store.jobs.of(scan_id)] == ["queued"]  # nothing scans yet: it stays queued
    pending = client("operation", "Get", ops.GetOperationRequest(operation_id=operation.id))
    assert not pending.done and pending.WhichOneof("result") is None
    assert served.callers[-1].bearer_token == TOKEN  # the token reached the auth hook


def test_finished_scan_completes_the_operation_with_the_packed_result(served, client):
    image = add_image(served.store)
    operation, scan_id = start(client, image.id)
    served.store.scans.finish(
        scan_id, [finding("CVE-2024-1", Severity.HIGH), finding("CVE-2024-2", Severity.LOW)],
        {Severity.HIGH: 1, Severity.LOW: 1}, "build-1", [],
    )
    done = client("operation", "Get", ops.GetOperationRequest(operation_id=operation.id))
    packed = scanner_pb2.ScanResult()
    assert done.done and done.response.Unpack(packed)
    current = client("scanner", "Get", ss.GetScanResultRequest(scan_result_id=scan_id))
    assert packed == current
    assert current.status == READY and current.HasField("scanned_at")
    assert (current.vulnerabilities.high, current.vulnerabilities.low, current.vulnerabilities.critical) == (1, 1, 0)
    assert done.modified_at.ToDatetime() >= done.created_at.ToDatetime()


def test_failed_scan_completes_the_operation_with_an_error(served, client):
    image = add_image(served.store)
    operation, scan_id = start(client, image.id)
    served.store.scans.fail(scan_id, "manifest unknown")
    done = client("operation", "Get", ops.GetOperationRequest(operation_id=operation.id))
    assert done.done and done.WhichOneof("result") == "error"
    assert (done.error.code, done.error.message) == (grpc.StatusCode.INTERNAL.value[0], "manifest unknown")
    assert client("scanner", "Get", ss.GetScanResultRequest(scan_result_id=scan_id)).status == ERROR


def test_cancel_ends_a_running_scan(served, client):
    image = add_image(served.store)
    operation, scan_id = start(client, image.id)
    cancelled = client("operation", "Cancel", ops.CancelOperationRequest(operation_id=operation.id))
    assert cancelled.done and cancelled.error.code == grpc.StatusCode.CANCELLED.value[0]
    assert client("scanner", "Get", ss.GetScanResultRequest(scan_result_id=scan_id)).status == ERROR
    assert [job.status for job in served.store.jobs.of(scan_id)] == ["cancelled"]
    assert client("operation", "Cancel", ops.CancelOperationRequest(operation_id=operation.id)) == cancelled
    assert client("operation", "Get", ops.GetOperationRequest(operation_id=operation.id)) == cancelled


def test_sdk_waits_for_the_scan_result(served):
    """The SDK's own operation waiter, with the scan finished from another thread as the pipeline will."""
    image = add_image(served.store)
    scanner = served.sdk.client(ScannerServiceStub)
    operation = scanner.Scan(ss.ScanRequest(image_id=image.id))
    metadata = ss.ScanMetadata()
    operation.metadata.Unpack(metadata)
    finisher = threading.Timer(
        0.5, served.store.scans.finish, (metadata.scan_result_id, [finding("CVE-1", Severity.CRITICAL)],
                                     {Severity.CRITICAL: 1}, "b", [])
    )
    finisher.start()
    result = served.sdk.wait_operation_and_get_result(
        operation, response_type=scanner_pb2.ScanResult, meta_type=ss.ScanMetadata, timeout=30
    )
    finisher.join()
    assert result.response.id == metadata.scan_result_id and result.response.status == READY
    assert result.response.vulnerabilities.critical == 1 and result.meta.scan_result_id == metadata.scan_result_id


def test_get_last_returns_the_newest_finished_result(served, client):
    image = add_image(served.store)
    request = ss.GetLastScanResultRequest(image_id=image.id)
    fails(lambda: client("scanner", "GetLast", request), NOT_FOUND, f"image {image.id} has no finished scan")
    _, first = start(client, image.id)
    fails(lambda: client("scanner", "GetLast", request), NOT_FOUND)  # running is not finished
    served.store.scans.fail(first, "boom")
    assert client("scanner", "GetLast", request).id == first  # ERROR counts as finished
    _, second = start(client, image.id)
    served.store.scans.finish(second, [], {}, "b", [])
    _, third = start(client, image.id)  # running again
    last = client("scanner", "GetLast", request)
    assert (last.id, last.status) == (second, READY)


def test_list_vulnerabilities_maps_every_field_and_orders_critical_first(served, client):
    _, scan_id, findings = scanned_image(served.store)
    response = client("scanner", "ListVulnerabilities", ss.ListVulnerabilitiesRequest(scan_result_id=scan_id))
    assert [v.package.name for v in response.vulnerabilities] == ["CVE-2024-0001", "CVE-2023-4911"]
    assert response.next_page_token == ""
    by_name = {f.name: f for f in findings}
    for vulnerability in response.vulnerabilities:
        assert vulnerability.WhichOneof("vulnerability") == "package"
        source = by_name[vulnerability.package.name]
        assert vulnerability.severity == int(source.severity)
        package = vulnerability.package
        assert (package.link, package.package, package.source, package.version, package.fixed_by,
                package.origin, package.type) == (source.link, source.package, source.source, source.version,
                                                  source.fixed_by, source.origin, source.type)


@pytest.fixture
def many_findings(served):
    image = add_image(served.store)
    scan_id = served.store.operations.get(served.store.scans.start(image.id).id).resource_id
    severities = list(Severity)
    findings = [finding(f"CVE-2024-{i:04d}", severities[(i * 7) % 6], package=f"pkg{i % 5}") for i in range(40)]
    counts = {s: sum(f.severity == s for f in findings) for s in Severity}
    served.store.scans.finish(scan_id, findings, counts, "b", [])
    return scan_id, findings


def walk_vulnerabilities(client, scan_id, page_size, **kwargs):
    names, token, pages = [], "", 0
    while True:
        response = client("scanner", "ListVulnerabilities", ss.ListVulnerabilitiesRequest(
            scan_result_id=scan_id, page_size=page_size, page_token=token, **kwargs))
        assert len(response.vulnerabilities) <= page_size
        names += [(v.severity, v.package.name) for v in response.vulnerabilities]
        token, pages = response.next_page_token, pages + 1
        if not token:
            return names, pages


@pytest.mark.parametrize(
    "filter_text, order_by, expected",
    [
        ("", "", lambda fs: sorted(fs)),  # severity, critical first; ties in insertion (id) order
        ("", "severity", lambda fs: sorted(fs)),
        ("", "name", lambda fs: sorted(fs, key=lambda f: f[1])),
        ("", "name desc", lambda fs: sorted(fs, key=lambda f: f[1], reverse=True)),
        ('severity="HIGH"', "", lambda fs: [f for f in fs if f[0] == 2]),
        (' severity = "NEGLIGIBLE" AND name="CVE-2024-0009"', "name",
         lambda fs: [f for f in fs if f[1] == "CVE-2024-0009" and f[0] == 5]),
        ('name="CVE-2024-0003"', "", lambda fs: [f for f in fs if f[1] == "CVE-2024-0003"]),
    ],
)
def test_list_vulnerabilities_filters_orders_and_pages(client, many_findings, filter_text, order_by, expected):
    scan_id, findings = many_findings
    everything = [(int(f.severity), f.name) for f in findings]
    names, pages = walk_vulnerabilities(client, scan_id, 7, filter=filter_text, order_by=order_by)
    assert names == expected(everything)
    assert pages == max(1, -(-len(names) // 7))


@pytest.mark.parametrize(
    "field, value, fragments",
    [
        ("filter", 'severity="SEVERE"', ["invalid value 'SEVERE' for severity", "CRITICAL"]),
        ("filter", 'package="openssl"', ["unknown field 'package'", "severity"]),
        ("filter", "severity=HIGH", ["must be in double quotes"]),
        ("filter", 'severity>"HIGH"', ["unsupported operator '>'"]),
        ("filter", 'name="CVE-1\x00"', ["contains control characters"]),
        ("filter", 'name="' + "x" * 1000 + '"', ["filter is too long"]),
        ("order_by", "scannedAt", ["unknown field 'scannedAt'"]),
        ("order_by", "severity asc", ["severity takes no direction"]),
        ("order_by", "name sideways", ["direction must be asc or desc"]),
        ("page_size", 1001, ["page_size must be between 0 and 1000"]),
        ("page_token", "garbage!", ["page_token"]),
    ],
)
def test_list_vulnerabilities_rejects_bad_arguments(client, many_findings, field, value, fragments):
    request = ss.ListVulnerabilitiesRequest(scan_result_id=many_findings[0], **{field: value})
    fails(lambda: client("scanner", "ListVulnerabilities", request), INVALID, *fragments)


ID_CALLS = [
    ("scanner", "Scan", ss.ScanRequest, "image_id", "image"),
    ("scanner", "Get", ss.GetScanResultRequest, "scan_result_id", "scan result"),
    ("scanner", "GetLast", ss.GetLastScanResultRequest, "image_id", "image"),
    ("scanner", "ListVulnerabilities", ss.ListVulnerabilitiesRequest, "scan_result_id", "scan result"),
    ("operation", "Get", ops.GetOperationRequest, "operation_id", "operation"),
    ("operation", "Cancel", ops.CancelOperationRequest, "operation_id", "operation"),
]


@pytest.mark.parametrize("service, method, request_type, field, resource", ID_CALLS)
def test_ids_are_validated_then_looked_up(client, service, method, request_type, field, resource):
    call = lambda value: lambda: client(service, method, request_type(**{field: value}))  # noqa: E731
    fails(call("a" * 51), INVALID, field, "too long")
    fails(call("crp_bad.id"), INVALID, field, "malformed")
    fails(call("crpunknown0000000000"), NOT_FOUND, f"{resource} crpunknown0000000000 not found")
    if isinstance(client, RestClient):
        return  # an empty path variable has no URL; the gRPC run covers "required"
    fails(call(""), INVALID, f"{field} is required")


def test_rest_and_grpc_return_the_same_scan_data(served):
    """Field by field, the REST JSON is the proto3 JSON of the gRPC response."""
    image, scan_id, _ = scanned_image(served.store)
    scanner = served.sdk.client(ScannerServiceStub)
    via_grpc = scanner.List(ss.ListScanResultsRequest(image_id=image.id))
    via_rest = served.http.get("/container-registry/v1/scans", params={"imageId": image.id}).json()
    assert via_rest == json_format.MessageToDict(via_grpc)
    assert via_rest["scanResults"][0]["vulnerabilities"] == {"critical": "1", "high": "1"}  # int64 as strings
    assert via_rest["scanResults"][0]["status"] == "READY"
    vulns_grpc = scanner.ListVulnerabilities(ss.ListVulnerabilitiesRequest(scan_result_id=scan_id))
    vulns_rest = served.http.get(
        f"/container-registry/v1/scans/{scan_id}:listVulnerabilities", params={"orderBy": "severity"}
    ).json()
    assert vulns_rest == json_format.MessageToDict(vulns_grpc)
    assert vulns_rest["vulnerabilities"][0]["severity"] == "CRITICAL"


def test_concurrent_scans_all_succeed(served):
    """The gRPC server's worker threads writing at once: SQLite's WAL + busy timeout serialise them cleanly,
    and concurrent Scans of one image share its one running scan."""
    images = [add_image(served.store, repository=f"library/app{n}") for n in range(8)]
    scanner = served.sdk.client(ScannerServiceStub)
    operations, errors = {image.id: [] for image in images}, []

    def scan_each_once():
        for image in images:
            try:
                operations[image.id].append(scanner.Scan(ss.ScanRequest(image_id=image.id)))
            except grpc.RpcError as exc:  # collected, so the assertion shows the status
                errors.append((exc.code(), exc.details()))

    threads = [threading.Thread(target=scan_each_once) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for image in images:
        listed = scanner.List(ss.ListScanResultsRequest(image_id=image.id, page_size=100))
        assert len(listed.scan_results) == 1 and len(operations[image.id]) == 5
        assert len({o.id for o in operations[image.id]}) == 1
