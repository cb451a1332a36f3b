"""Request ids: one per API call, in every error's `details` (`google.rpc.RequestInfo`, as Yandex Cloud returns
it), in the `x-request-id` response header / gRPC trailing metadata, and in the server's log line for the call.

A caller's own `x-request-id` is kept when it is sane (1-128 printable ASCII characters, no spaces), so one id
follows a request through a proxy into crscan's log; anything else is replaced, never echoed.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterable

from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

HEADER = "x-request-id"
# gRPC's binary trailer carrying the full `google.rpc.Status`, read by grpc-status aware clients.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
MAX_LENGTH = 128
_SANE = re.compile(rf"[\x21-\x7e]{{1,{MAX_LENGTH}}}")


def request_id(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    """The caller's `x-request-id` when sane, else a fresh UUID."""
    for key, value in metadata:
        if key.lower() == HEADER:
            if isinstance(value, str) and _SANE.fullmatch(value):
                return value
            break
    # Unique, not unpredictable: `random`'s generator (seeded from the OS, reseeded in a forked child) instead of
    # `uuid.uuid4`'s getrandom(2) per request, which on a busy server also hands the GIL to another thread.
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def request_info(request_id: str) -> any_pb2.Any:
    """The `details` entry naming the request."""
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.RequestInfo(request_id=request_id))
    return packed


def status_details(code: int, message: str, request_id: str) -> bytes:
    """A serialized `google.rpc.Status` for the gRPC `grpc-status-details-bin` trailer."""
    status = status_pb2.Status(code=code, message=message, details=[request_info(request_id)])
    serialized: bytes = status.SerializeToString()
    return serialized


def rest_details(request_id: str) -> list[dict[str, str]]:
    """The `details` list of a REST `google.rpc.Status` body, in the proto3 JSON form of `Any`."""
    return [{"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": request_id}]
