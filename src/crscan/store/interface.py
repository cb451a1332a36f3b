"""What the rest of crscan may rely on from the store: one base error, the store's own enums, the scan-completion
sink, and the codec the entry point supplies for what operation rows carry.

The scan pipeline depends on `ScanSink` only, so it can be exercised without a database. The store speaks no
wire format: `OperationCodec` (implemented in crscan.api.messages) serializes operation payloads for it.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crscan.model import Finding, Severity

if TYPE_CHECKING:
    from sqlalchemy import Row


class StoreError(Exception):
    """Base of every error the store raises; the message says what was wrong."""


class NotFound(StoreError):
    """The named resource does not exist."""

    def __init__(self, resource: str, resource_id: str):
        super().__init__(f"{resource} {resource_id} not found")
        self.resource = resource
        self.resource_id = resource_id


class ScanNotRunning(StoreError):
    """A scan result was finished, failed or cancelled already; late results are refused, not merged."""


class StoreUnavailable(StoreError):
    """The database refused a write it should take (disk full, read-only file, server gone); retry later."""


class ScanAlreadyRunning(StoreError):
    """The image has a RUNNING scan already; the database allows one per image."""


class StaleCursor(StoreError):
    """A page token points at a row that no longer exists."""


class ScanStatus(enum.IntEnum):
    """A scan result's state; the numbers are the API's ScanResult.Status numbers, stored as they are."""

    STATUS_UNSPECIFIED = 0
    RUNNING = 1
    READY = 2
    ERROR = 3


class OperationError(enum.Enum):
    """Why the store ended an operation in error; the codec maps each to its wire status code."""

    INTERNAL = "internal"  # the scan failed
    CANCELLED = "cancelled"  # the scan was cancelled
    ABORTED = "aborted"  # the scanned image was deleted
    NOT_FOUND = "not_found"  # the image is gone from its registry


@dataclass(frozen=True)
class InventoryRecord:
    """What a pull read, kept as the image's inventory so a re-match needs no registry: the catalogers' cache
    key, the reference pulled and its layer digests, bottom first."""

    cache_key: str
    reference: str
    layer_digests: tuple[str, ...]


class ScanSink(abc.ABC):
    """Where the pipeline reports the outcome of a queued scan; each call is one transaction."""

    @abc.abstractmethod
    def finish(
        self,
        scan_result_id: str,
        findings: Sequence[Finding],
        counts: Mapping[Severity, int],
        build_id: str,
        warnings: Sequence[str],
        missing_risk_feeds: Sequence[str] | None = None,
        inventory: InventoryRecord | None = None,
    ) -> None:
        """Store the findings, mark the result READY and complete its Operation with the packed ScanResult.

        `missing_risk_feeds` names the risk feeds (KEV, EPSS) the feed build lacked; None when not known.
        `inventory`, when given, replaces the image's stored inventory in the same transaction."""

    @abc.abstractmethod
    def fail(self, scan_result_id: str, message: str, kind: OperationError = OperationError.INTERNAL) -> None:
        """Mark the result ERROR and complete its Operation with an error Status of `kind` carrying `message`."""


class OperationCodec(abc.ABC):
    """Serializes the payloads stored in operation rows (metadata, response, error) exactly as the API returns
    them, so an operation is written once, in the transaction that changes its resource."""

    @abc.abstractmethod
    def scan_metadata(self, scan_result_id: str) -> bytes:
        """The metadata of a Scan operation."""

    @abc.abstractmethod
    def scan_response(self, result: Row[Any]) -> bytes:
        """The response of a Scan operation that finished: the scan result as it is now (a row of
        `store.scans.SCAN_LIST_COLUMNS`)."""

    @abc.abstractmethod
    def delete_image_metadata(self, image_id: str) -> bytes:
        """The metadata of an image Delete operation."""

    @abc.abstractmethod
    def delete_image_response(self) -> bytes:
        """The (empty) response of an image Delete operation."""

    @abc.abstractmethod
    def error(self, kind: OperationError, message: str) -> bytes:
        """The error of an operation that ended with `kind`."""
