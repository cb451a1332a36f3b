"""What every report format looks like, and the one error the report package raises."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, TextIO

from crscan.model import ScanReport


class ReportError(Exception):
    """A report option or ignore file is invalid; the message names the offending value."""


class ReportFormat(ABC):
    """Writes one ScanReport to a text stream in one format (`crscan scan --format NAME`)."""

    name: ClassVar[str]

    @abstractmethod
    def write(self, report: ScanReport, stream: TextIO) -> None:
        """Render `report` onto `stream`; never closes it."""
