"""REST responses are printed by `wire_json`; its bytes must be exactly what `json_format.MessageToDict` gives.

Checked on every Get/List response kind (and the operations mutations answer) of a store holding real scans of
the test images, and on generated messages covering what real data may not: unknown enum numbers, int64
extremes, any text, maps, timestamps of any second and nanosecond.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from google.protobuf import duration_pb2, json_format, timestamp_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse
from yandex.cloud.containerregistry.v1 import (
    blob_pb2,
    image_pb2,
    image_service_pb2,
    registry_pb2,
    registry_service_pb2,
    repository_service_pb2,
    scan_policy_pb2,
    scan_policy_service_pb2,
    scanner_pb2,
    scanner_service_pb2,
)
from yandex.cloud.endpoint import api_endpoint_service_pb2
from yandex.cloud.operation import operation_pb2, operation_service_pb2

from crscan.api import messages
from crscan.api.auth import AllowAll, authenticated
from crscan.api.endpoint import EndpointServicer
from crscan.api.messages import OPERATION_CODEC
from crscan.api.rest import RestContext
from crscan.api.servicers import build_servicers
from crscan.api.wire_json import message_to_dict
from crscan.jobs import ScanRunner
from crscan.store import Store
from tests.jobs.conftest import FOLDER, register
from tests.vulndb.support import shared_feed_db


def wire_bytes(message) -> bytes:
    return JSONResponse(message_to_dict(message)).body


def reference_bytes(message) -> bytes:
    return JSONResponse(json_format.MessageToDict(message)).body


def assert_same_json(message) -> None:
    assert wire_bytes(message) == reference_bytes(message)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, local_registry, test_images, shared_data):
    """A store with the real scans of two test images (over a hundred findings), a scan policy, and operations."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('wire-json') / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    images = [register(store, local_registry, test_images[name]) for name in ("bookworm", "bullseye")]
    runner = ScanRunner(store, shared_feed_db(tmp_path_factory, shared_data))
    for image in images:
        store.scans.enqueue(image.id)
        job = store.jobs.claim(lease_seconds=60)
        assert runner.run(job, last_attempt=True) == "ready"
    yield store, images
    store.close()


def call(servicer, method: str, request):
    with authenticated(AllowAll(), f"/test.Service/{method}", "rest", ()):
        return getattr(servicer, method)(request, RestContext((), ""))


def test_every_get_and_list_prints_like_json_format_on_real_scans(scanned):
    store, images = scanned
    scanner, policies, operations, registries, repositories, image_service = build_servicers(store)
    image = images[0]
    repository = store.repositories.get(image.repository_id)
    registry_id = repository.registry_id
    store.registries.add("labelled", "https://labelled.example", folder_id=FOLDER,
                         labels={"team": "платформа", "tier": "1"})
    results = [call(scanner, "GetLast", scanner_service_pb2.GetLastScanResultRequest(image_id=i.id)) for i in images]
    scan_operation = call(scanner, "Scan", scanner_service_pb2.ScanRequest(image_id=image.id))  # RUNNING: no scannedAt
    created = call(policies, "Create", scan_policy_service_pb2.CreateScanPolicyRequest(
        registry_id=registry_id, name="nightly", description="every night",
        rules=scan_policy_pb2.ScanRules(
            push_rule=scan_policy_pb2.PushRule(repository_prefixes=[repository.name]),
            schedule_rules=[scan_policy_pb2.ScheduledRule(repository_prefixes=["*"],
                                                          rescan_period=duration_pb2.Duration(seconds=86400))],
        ),
    ))
    responses = [
        *results,
        call(scanner, "Get", scanner_service_pb2.GetScanResultRequest(scan_result_id=results[1].id)),
        call(scanner, "List", scanner_service_pb2.ListScanResultsRequest(image_id=image.id)),
        call(scanner, "List", scanner_service_pb2.ListScanResultsRequest(repository_id=image.repository_id,
                                                                         order_by="vulnerabilities")),
        scan_operation,
        call(operations, "Get", operation_service_pb2.GetOperationRequest(operation_id=scan_operation.id)),
        created,
        call(policies, "GetByRegistry", scan_policy_service_pb2.GetScanPolicyByRegistryRequest(
            registry_id=registry_id)),
        call(image_service, "Get", image_service_pb2.GetImageRequest(image_id=image.id)),
        call(image_service, "List", image_service_pb2.ListImagesRequest(folder_id=FOLDER, page_size=1)),
        call(image_service, "List", image_service_pb2.ListImagesRequest(registry_id=registry_id)),
        call(registries, "Get", registry_service_pb2.GetRegistryRequest(registry_id=registry_id)),
        call(registries, "List", registry_service_pb2.ListRegistriesRequest(folder_id=FOLDER)),
        call(repositories, "Get", repository_service_pb2.GetRepositoryRequest(repository_id=repository.id)),
        call(repositories, "List", repository_service_pb2.ListRepositoriesRequest(registry_id=registry_id)),
        call(EndpointServicer("localhost:1"), "List", api_endpoint_service_pb2.ListApiEndpointsRequest()),
    ]
    for result in results:
        token = ""
        for page_size in (1000, 100, 7):  # every finding, then pages with their next tokens
            page = call(scanner, "ListVulnerabilities", scanner_service_pb2.ListVulnerabilitiesRequest(
                scan_result_id=result.id, page_size=page_size, page_token=token))
            responses.append(page)
            token = page.next_page_token if page_size != 1000 else ""
    responses.append(call(image_service, "Delete", image_service_pb2.DeleteImageRequest(image_id=images[1].id)))
    pages = [r for r in responses if isinstance(r, scanner_service_pb2.ListVulnerabilitiesResponse)]
    assert sum(len(page.vulnerabilities) for page in pages) > 100 and any(page.next_page_token for page in pages)
    for response in responses:
        assert_same_json(response)
    assert messages.scan_result(store.scans.view(results[0].id)) == results[0]


def test_an_empty_response_prints_as_an_empty_object():
    assert wire_bytes(scanner_service_pb2.ListScanResultsResponse()) == b"{}"
    assert_same_json(operation_pb2.Operation(done=False))


def timestamps() -> st.SearchStrategy[timestamp_pb2.Timestamp]:
    nanos = st.one_of(st.just(0), st.integers(1, 999).map(lambda n: n * 1_000_000),
                      st.integers(1, 999_999).map(lambda n: n * 1_000), st.integers(1, 999_999_999))
    return st.builds(timestamp_pb2.Timestamp, seconds=st.integers(-62135596800, 253402300799), nanos=nanos)


int64 = st.integers(-(2**63), 2**63 - 1)
text = st.text(max_size=20)
statuses = st.integers(0, 6)  # 4–6 are numbers the enum does not name: printed as numbers
severities = st.integers(0, 9)

scan_results = st.builds(
    scanner_pb2.ScanResult, id=text, image_id=text, status=statuses,
    scanned_at=st.one_of(st.none(), timestamps()),
    vulnerabilities=st.one_of(st.none(), st.builds(
        scanner_pb2.VulnerabilityStats, critical=int64, high=int64, medium=int64, low=int64, negligible=int64,
        undefined=int64)),
)
vulnerabilities = st.builds(
    scanner_pb2.Vulnerability, severity=severities,
    package=st.one_of(st.none(), st.builds(
        scanner_pb2.PackageVulnerability, name=text, link=text, package=text, source=text, version=text,
        fixed_by=text, origin=text, type=text)),
)
images = st.builds(
    image_pb2.Image, id=text, name=text, digest=text, compressed_size=int64,
    config=st.one_of(st.none(), st.builds(blob_pb2.Blob, id=text, digest=text, size=int64, urls=st.lists(text))),
    layers=st.lists(st.builds(blob_pb2.Blob, digest=text, size=int64), max_size=3),
    tags=st.lists(text, max_size=3), created_at=st.one_of(st.none(), timestamps()),
)
registries = st.builds(
    registry_pb2.Registry, id=text, folder_id=text, name=text, status=st.integers(0, 5),
    labels=st.dictionaries(text, text, max_size=3), created_at=st.one_of(st.none(), timestamps()),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.builds(scanner_service_pb2.ListScanResultsResponse, scan_results=st.lists(scan_results, max_size=3),
              next_page_token=text),
    st.builds(scanner_service_pb2.ListVulnerabilitiesResponse, vulnerabilities=st.lists(vulnerabilities, max_size=3),
              next_page_token=text),
    st.builds(image_service_pb2.ListImagesResponse, images=st.lists(images, max_size=3), next_page_token=text),
    st.builds(registry_service_pb2.ListRegistriesResponse, registries=st.lists(registries, max_size=3)),
    scan_results,
    images,
))
def test_generated_messages_print_like_json_format(message):
    assert_same_json(message)
    assert json.loads(wire_bytes(message)) == json_format.MessageToDict(message)


@given(timestamps())
def test_timestamps_print_like_to_json_string(stamp):
    message = scanner_pb2.ScanResult(scanned_at=stamp)
    assert message_to_dict(message) == {"scannedAt": stamp.ToJsonString()}


def test_datetimes_become_the_timestamps_from_datetime_makes():
    for value in (dt.datetime(2026, 12, 7, 14, 58, 1, 123456), dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
                  dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)):
        expected = timestamp_pb2.Timestamp()
        expected.FromDatetime(value.replace(tzinfo=dt.UTC))
        assert messages.timestamp(value) == expected
