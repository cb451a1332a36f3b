"""Store rows → the API's generated proto messages (the yandexcloud package is the contract; nothing is
re-declared). Only `api/` speaks the wire: the store hands back rows, this module turns them into messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc
from google.protobuf import any_pb2, empty_pb2, timestamp_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2
from sqlalchemy import Row
from yandex.cloud.containerregistry.v1 import (
    blob_pb2,
    image_pb2,
    image_service_pb2,
    registry_pb2,
    repository_pb2,
    scanner_pb2,
    scanner_service_pb2,
)
from yandex.cloud.operation import operation_pb2

from crscan.store import OperationCodec, OperationError, ScanStatus, schema
from crscan.store.images import ImageView

_EPOCH = dt.datetime(1970, 1, 1)


def timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    """A stored (naive UTC) datetime as a Timestamp; integer arithmetic, as a page of results makes a hundred."""
    since = value.replace(tzinfo=None) - _EPOCH  # stored datetimes are UTC; a zone, if any, is not converted
    return timestamp_pb2.Timestamp(seconds=since.days * 86400 + since.seconds, nanos=since.microseconds * 1000)


def pack(message: Message) -> bytes:
    packed = any_pb2.Any()
    packed.Pack(message)
    serialized: bytes = packed.SerializeToString()
    return serialized


def scan_result(row: schema.ScanResult | Row[Any]) -> scanner_pb2.ScanResult:
    """A stored or listed (`store.scans.SCAN_LIST_COLUMNS`) scan result."""
    message = scanner_pb2.ScanResult(
        id=row.id,
        image_id=row.image_id,
        status=scanner_pb2.ScanResult.Status.ValueType(row.status),
        vulnerabilities=scanner_pb2.VulnerabilityStats(
            critical=row.critical,
            high=row.high,
            medium=row.medium,
            low=row.low,
            negligible=row.negligible,
            undefined=row.undefined,
        ),
    )
    if row.status != ScanStatus.RUNNING:  # while running, scanned_at is only the start time
        message.scanned_at.CopyFrom(timestamp(row.scanned_at))
    return message


def vulnerability(row: Row[Any]) -> scanner_pb2.Vulnerability:
    """A listed finding (`store.scans.FINDING_LIST_COLUMNS`)."""
    return scanner_pb2.Vulnerability(
        severity=scanner_pb2.Vulnerability.Severity.ValueType(row.severity),
        package=scanner_pb2.PackageVulnerability(
            name=row.name,
            link=row.link,
            package=row.package,
            source=row.source,
            version=row.version,
            fixed_by=row.fixed_by,
            origin=row.origin,
            type=row.type,
        ),
    )


def registry(row: schema.Registry) -> registry_pb2.Registry:
    return registry_pb2.Registry(
        id=row.id,
        folder_id=row.folder_id,
        name=row.name,
        status=registry_pb2.Registry.ACTIVE,
        created_at=timestamp(row.created_at),
        labels=row.labels,
    )


def repository_name(row: schema.Repository) -> str:
    """The API's repository name: "<registry id>/<path in registry>", as Yandex shows it."""
    return f"{row.registry_id}/{row.name}"


def repository(row: schema.Repository) -> repository_pb2.Repository:
    return repository_pb2.Repository(id=row.id, name=repository_name(row))


def image(row: ImageView) -> image_pb2.Image:
    return image_pb2.Image(
        id=row.id,
        name=f"{row.registry_id}/{row.repository_path}",
        digest=row.digest,
        compressed_size=row.compressed_size,
        config=blob_pb2.Blob(digest=row.config_digest, size=row.config_size),
        layers=[blob_pb2.Blob(digest=layer.digest, size=layer.size) for layer in row.layers],
        tags=row.tags,
        created_at=timestamp(row.created_at),
    )


def operation(row: schema.Operation) -> operation_pb2.Operation:
    message = operation_pb2.Operation(
        id=row.id,
        description=row.description,
        created_at=timestamp(row.created_at),
        created_by=row.created_by,
        modified_at=timestamp(row.modified_at),
        done=row.done,
    )
    message.metadata.ParseFromString(row.metadata_any)
    if row.error_status is not None:
        message.error.CopyFrom(status_pb2.Status.FromString(row.error_status))
    elif row.response_any is not None:
        message.response.ParseFromString(row.response_any)
    return message


OPERATION_ERROR_CODES = {
    OperationError.INTERNAL: grpc.StatusCode.INTERNAL,
    OperationError.CANCELLED: grpc.StatusCode.CANCELLED,
    OperationError.ABORTED: grpc.StatusCode.ABORTED,
    OperationError.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
}


class WireOperationCodec(OperationCodec):
    """Operation payloads as the API returns them: packed `google.protobuf.Any`s and a `google.rpc.Status`."""

    def scan_metadata(self, scan_result_id: str) -> bytes:
        return pack(scanner_service_pb2.ScanMetadata(scan_result_id=scan_result_id))

    def scan_response(self, result: Row[Any]) -> bytes:
        return pack(scan_result(result))

    def delete_image_metadata(self, image_id: str) -> bytes:
        return pack(image_service_pb2.DeleteImageMetadata(image_id=image_id))

    def delete_image_response(self) -> bytes:
        return pack(empty_pb2.Empty())

    def error(self, kind: OperationError, message: str) -> bytes:
        code = OPERATION_ERROR_CODES[kind].value[0]
        serialized: bytes = status_pb2.Status(code=code, message=message).SerializeToString()
        return serialized


OPERATION_CODEC = WireOperationCodec()
