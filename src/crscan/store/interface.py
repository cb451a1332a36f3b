"""What the rest of crscan may rely on from the store: one base error and the scan-completion sink.

The scan pipeline depends on `ScanSink` only, so it can be exercised without a database.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence

from crscan.model import Finding, Severity


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


class StaleCursor(StoreError):
    """A page token points at a row that no longer exists."""


class ScanStatus(enum.IntEnum):
    """A scan result's state; the numbers are the API's ScanResult.Status numbers, stored as they are."""

    STATUS_UNSPECIFIED = 0
    RUNNING = 1
    READY = 2
    ERROR = 3


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
    ) -> None:
        """Store the findings, mark the result READY and complete its Operation with the packed ScanResult."""

    @abc.abstractmethod
    def fail(self, scan_result_id: str, message: str) -> None:
        """Mark the result ERROR and complete its Operation with an error Status carrying `message`."""
