"""ScannerService: Scan, Get, GetLast, List, ListVulnerabilities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import grpc
from yandex.cloud.containerregistry.v1 import scanner_pb2, scanner_service_pb2, scanner_service_pb2_grpc
from yandex.cloud.operation import operation_pb2

from crscan.api import messages
from crscan.api.errors import invalid_argument, not_found
from crscan.api.listing import OrderBy, PageTokens, page_size, parse_filter, parse_order_by
from crscan.api.response_cache import ResponseCache, cached_read
from crscan.api.servicers.common import (
    caller_subject,
    check_access,
    for_caller,
    from_micros,
    require_id,
    store_errors,
    to_micros,
)
from crscan.store import Order, Store, scan_sort_values

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

SCAN_ORDER_FIELDS = {
    "status": "status",
    "scannedAt": "scanned_at",
    "scanned_at": "scanned_at",
    "vulnerabilities": "vulnerabilities",
}
DEFAULT_SCAN_ORDER = OrderBy("scanned_at", descending=True)
CRITICAL_FIRST = {"vulnerabilities": True}  # counts descending: most criticals first

FINDING_ORDER_FIELDS = {"severity": "severity", "name": "name"}
DEFAULT_FINDING_ORDER = OrderBy("severity", descending=False)
SEVERITY_FIRST = {"severity": False}  # severity numbers ascending: CRITICAL (1) first


def _enum_value(enum: EnumTypeWrapper, what: str) -> Callable[[str], int]:
    """A filter converter from a proto enum's value name to its number; ValueError listing the names."""

    def convert(name: str) -> int:
        try:
            number: int = enum.Value(name)
            return number
        except ValueError:
            raise ValueError(f"not a {what}; one of {', '.join(enum.keys())}") from None

    return convert


_status = _enum_value(scanner_pb2.ScanResult.Status, "scan status")
_severity = _enum_value(scanner_pb2.Vulnerability.Severity, "severity")


def _name(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


class ScannerServicer(scanner_service_pb2_grpc.ScannerServiceServicer):
    def __init__(
        self, store: Store, on_queued: Callable[[], None] | None = None, responses: ResponseCache | None = None
    ):
        self.store = store
        self.on_queued = on_queued  # wakes the job queue; None when no worker runs in this process
        self.responses = responses

    def Scan(self, request: scanner_service_pb2.ScanRequest, context: grpc.ServicerContext) -> operation_pb2.Operation:
        """A new scan, or the operation of the image's scan already RUNNING (one running scan per image)."""
        image_id = require_id(request.image_id, "image_id")
        check_access(self.store, "image", image_id)
        with store_errors():
            operation = self.store.scans.enqueue(image_id, created_by=caller_subject())
        if self.on_queued is not None:
            self.on_queued()
        return messages.operation(operation)

    @cached_read
    def Get(
        self, request: scanner_service_pb2.GetScanResultRequest, context: grpc.ServicerContext
    ) -> scanner_pb2.ScanResult:
        scan_result_id = require_id(request.scan_result_id, "scan_result_id")
        check_access(self.store, "scan_result", scan_result_id)
        with store_errors():
            return messages.scan_result(self.store.scans.view(scan_result_id))

    @cached_read
    def GetLast(
        self, request: scanner_service_pb2.GetLastScanResultRequest, context: grpc.ServicerContext
    ) -> scanner_pb2.ScanResult:
        image_id = require_id(request.image_id, "image_id")
        check_access(self.store, "image", image_id)
        with store_errors():
            row = self.store.scans.last_finished(image_id)
        if row is None:
            raise not_found(f"image {image_id} has no finished scan result")
        return messages.scan_result(row)

    @cached_read
    def List(
        self, request: scanner_service_pb2.ListScanResultsRequest, context: grpc.ServicerContext
    ) -> scanner_service_pb2.ListScanResultsResponse:
        if bool(request.image_id) == bool(request.repository_id):
            raise invalid_argument("exactly one of image_id and repository_id must be set")
        if request.image_id:
            scope = {"image_id": require_id(request.image_id, "image_id")}
        else:
            scope = {"repository_id": require_id(request.repository_id, "repository_id")}
        (field, resource_id), = scope.items()
        check_access(self.store, field.removesuffix("_id"), resource_id)
        limit = page_size(request.page_size)
        conditions = parse_filter(request.filter, {"status": _status})
        order_by = parse_order_by(request.order_by, SCAN_ORDER_FIELDS, DEFAULT_SCAN_ORDER, CRITICAL_FIRST)
        order = Order(order_by.key, order_by.descending)
        tokens = PageTokens(self.store.page_token_key())
        request_context = f"scans|{scope}|{sorted(conditions.items())}|{order}"
        after = tokens.read(request.page_token, for_caller(request_context))
        if after is not None and order.key == "scanned_at":
            after = (from_micros(after[0]), *after[1:])
        with store_errors():
            page = self.store.scans.page(
                **scope, status=conditions.get("status"), order=order, after=after, limit=limit
            )
        response = scanner_service_pb2.ListScanResultsResponse(
            scan_results=[messages.scan_result(row) for row in page.rows]
        )
        if page.has_more:
            values = scan_sort_values(page.rows[-1], order)
            values = tuple(to_micros(v) if isinstance(v, dt.datetime) else v for v in values)
            response.next_page_token = tokens.issue(for_caller(request_context), values)
        return response

    @cached_read
    def ListVulnerabilities(
        self, request: scanner_service_pb2.ListVulnerabilitiesRequest, context: grpc.ServicerContext
    ) -> scanner_service_pb2.ListVulnerabilitiesResponse:
        scan_result_id = require_id(request.scan_result_id, "scan_result_id")
        check_access(self.store, "scan_result", scan_result_id)
        limit = page_size(request.page_size)
        conditions = parse_filter(request.filter, {"severity": _severity, "name": _name})
        order_by = parse_order_by(request.order_by, FINDING_ORDER_FIELDS, DEFAULT_FINDING_ORDER, SEVERITY_FIRST)
        order = Order(order_by.key, order_by.descending)
        tokens = PageTokens(self.store.page_token_key())
        request_context = f"vulnerabilities|{scan_result_id}|{sorted(conditions.items())}|{order}"
        after = tokens.read(request.page_token, for_caller(request_context))
        with store_errors():
            page = self.store.scans.findings(
                scan_result_id,
                # the converters above made them: `_severity` an int, `_name` a str
                severity=cast(int | None, conditions.get("severity")),
                name=cast(str | None, conditions.get("name")),
                order=order,
                after_id=after[0] if after else None,
                limit=limit,
            )
        response = scanner_service_pb2.ListVulnerabilitiesResponse(
            vulnerabilities=[messages.vulnerability(row) for row in page.rows]
        )
        if page.has_more:
            response.next_page_token = tokens.issue(for_caller(request_context), (page.rows[-1].id,))
        return response
