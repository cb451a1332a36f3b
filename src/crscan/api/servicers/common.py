"""What every servicer does the same way: validate IDs, map store errors to API errors, find the caller."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import grpc

from crscan import ids
from crscan.api.auth import current_caller
from crscan.api.errors import ApiError, failed_precondition, invalid_argument, not_found, permission_denied
from crscan.store import NotFound, ScanNotRunning, StaleCursor, Store, StoreUnavailable
from crscan.store.tokens import registry_of


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
    """Store errors as the API's: unknown resource → NOT_FOUND, stale cursor → INVALID_ARGUMENT, a database that
    cannot write → UNAVAILABLE (503)."""
    try:
        yield
    except NotFound as exc:
        raise not_found(str(exc)) from None
    except StaleCursor as exc:
        raise invalid_argument(f"page_token: {exc}") from None
    except ScanNotRunning as exc:
        raise failed_precondition(str(exc)) from None
    except StoreUnavailable as exc:
        raise ApiError(grpc.StatusCode.UNAVAILABLE, str(exc)) from None


def only_folder(store: Store, required: str) -> str:
    """The folder a list without one means: the only folder among the registries the caller may see. With none
    or several, INVALID_ARGUMENT `required` (what the request lacks) and the folders seen, quoted."""
    scope = visible_registries()
    with store_errors():
        folders = sorted({r.folder_id for r in store.registries.all() if scope is None or r.id in scope})
    if len(folders) == 1:
        return folders[0]
    seen = f"folders here: {', '.join(repr(f) for f in folders)}" if folders else "no registry is attached yet"
    raise invalid_argument(f"{required} ({seen})")


def visible_registries() -> frozenset[str] | None:
    """The registries the caller may see, for list queries to filter on in SQL; None = every registry."""
    return current_caller().registries


def require_registry_access(registry_id: str | None, resource: str) -> None:
    """PERMISSION_DENIED unless the caller may see `registry_id` (None: the resource does not exist).

    A registry-scoped caller gets the same answer for a resource of another registry and for one that does not
    exist, so a scoped token cannot probe which IDs exist elsewhere; unscoped callers still get NOT_FOUND.
    """
    scope = current_caller().registries
    if scope is not None and registry_id not in scope:
        raise permission_denied(f"{resource} is not in a registry this token may access")


def check_access(store: Store, kind: str, resource_id: str) -> None:
    """`require_registry_access` for a stored resource (kind as `crscan.store.tokens.registry_of` takes it)."""
    if current_caller().registries is not None:  # unscoped callers cost no extra query
        require_registry_access(registry_of(store, kind, resource_id), f"{kind.replace('_', ' ')} {resource_id}")


def for_caller(request_context: str) -> str:
    """A page token's signed context, bound to the caller's token: another caller's tokens fail verification."""
    return f"{request_context}|caller={current_caller().token_id}"


def caller_subject() -> str:
    """Who to record as an Operation's `created_by`: the authenticated subject, empty when auth is off."""
    return current_caller().subject


EPOCH = dt.datetime(1970, 1, 1)


def to_micros(value: dt.datetime) -> int:
    """Timestamps travel in page tokens as integer microseconds (exact, compact)."""
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=value)
