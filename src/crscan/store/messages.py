"""What the store writes into operation rows: packed proto messages (to be moved out of the store)."""

from __future__ import annotations

import datetime as dt

import grpc
from google.protobuf import any_pb2, timestamp_pb2
from google.rpc import status_pb2
from yandex.cloud.containerregistry.v1 import scanner_pb2

from crscan.store import schema


def timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.replace(tzinfo=dt.UTC))
    return stamp


def pack(message) -> bytes:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed.SerializeToString()


def status(code: str, message: str) -> bytes:
    """A serialized google.rpc.Status with the gRPC code named `code`."""
    return status_pb2.Status(code=grpc.StatusCode[code].value[0], message=message).SerializeToString()


def scan_result(row: schema.ScanResult) -> scanner_pb2.ScanResult:
    message = scanner_pb2.ScanResult(
        id=row.id,
        image_id=row.image_id,
        status=row.status,
        vulnerabilities=scanner_pb2.VulnerabilityStats(
            critical=row.critical,
            high=row.high,
            medium=row.medium,
            low=row.low,
            negligible=row.negligible,
            undefined=row.undefined,
        ),
    )
    if row.status != scanner_pb2.ScanResult.RUNNING:  # while running, scanned_at is only the start time
        message.scanned_at.CopyFrom(timestamp(row.scanned_at))
    return message

