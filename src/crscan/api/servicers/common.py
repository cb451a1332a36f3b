"""What every servicer does the same way: validate IDs, map store errors to API errors, find the caller."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from crscan import ids
from crscan.api.auth import current_caller
from crscan.api.errors import failed_precondition, invalid_argument, not_found
from crscan.store import NotFound, ScanNotRunning, StaleCursor


def require_id(value: str, field: str) -> str:
    """A well-formed ID from the request, else INVALID_ARGUMENT naming the field."""
    try:
        return ids.check_id(value, field)
    except ids.InvalidId as exc:
        raise invalid_argument(str(exc)) from None


def optional_id(value: str, field: str) -> str:
    return require_id(value, field) if value else ""


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Store errors as the API's: unknown resource → NOT_FOUND, stale cursor → INVALID_ARGUMENT."""
    try:
        yield
    except NotFound as exc:
        raise not_found(str(exc)) from None
    except StaleCursor as exc:
        raise invalid_argument(f"page_token: {exc}") from None
    except ScanNotRunning as exc:
        raise failed_precondition(str(exc)) from None


def caller_subject() -> str:
    """Who to record as an Operation's `created_by`: the authenticated subject, empty when auth is off."""
    return current_caller().subject


EPOCH = dt.datetime(1970, 1, 1)


def to_micros(value: dt.datetime) -> int:
    """Timestamps travel in page tokens as integer microseconds (exact, compact)."""
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=value)
