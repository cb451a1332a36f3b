"""Rendering a ScanReport for people and tools: table, JSON, SARIF, CycloneDX, SPDX; plus filters and exit policy.

The `crscan scan` command calls, in order: `FindingFilter(...).apply(report)`, `render(...)`, `exit_code(...)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from crscan.model import ScanReport

from .filters import FindingFilter, IgnoreList, IgnoreRule, exit_code, parse_ignore_file
from .interface import ReportError, ReportFormat
from .risk import SORTS, risk_score, sort_findings
from .severity import parse_severity, parse_severity_list

if TYPE_CHECKING:
    from .table import render_table

FORMATS = ("table", "json", "sarif", "cyclonedx", "spdx-json")
SBOM_FORMATS = ("cyclonedx", "spdx-json")

__all__ = [
    "FORMATS", "SBOM_FORMATS", "SORTS", "FindingFilter", "IgnoreList", "IgnoreRule", "ReportError", "ReportFormat",
    "exit_code",
    "get_format", "parse_ignore_file", "parse_severity", "parse_severity_list", "render", "render_table",
    "risk_score", "sort_findings",
]


def get_format(name: str, *, color: bool = False, wide: bool = False, sort: str | None = None) -> ReportFormat:
    # Each format's module is imported when it is asked for: rich and cyclonedx are slow to import, and
    # `crscan --help` (which names FORMATS) must not pay for them.
    match name:
        case "table":
            from .table import TableFormat

            return TableFormat(color=color, wide=wide, sort=sort or "package")
        case "json":
            from .json_format import JsonFormat

            return JsonFormat()
        case "sarif":
            from .sarif import SarifFormat

            return SarifFormat()
        case "cyclonedx":
            from .cyclonedx import CycloneDxFormat

            return CycloneDxFormat()
        case "spdx-json":
            from .spdx import SpdxJsonFormat

            return SpdxJsonFormat()
    raise ReportError(f"unknown format {name!r}; expected one of {', '.join(FORMATS)}")


def render(report: ScanReport, fmt: str, stream: TextIO, *, color: bool, wide: bool = False,
           sort: str | None = None) -> None:
    """Write `report` in format `fmt` to `stream`, findings in `sort` order (see `risk`; None: as matched, the
    table by package); `color` and `wide` (advisory detail columns) only matter to the table, which orders
    within each of its targets."""
    get_format(fmt, color=color, wide=wide, sort=sort).write(sort_findings(report, sort) if sort else report, stream)


def __getattr__(name: str) -> Any:
    if name == "render_table":  # re-exported lazily, like the formats (rich)
        from .table import render_table

        return render_table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
