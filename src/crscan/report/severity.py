"""Severity names and counts shared by every format, so they all summarise a report the same way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from crscan.model import Finding, Severity

from .interface import ReportError

SEVERITY_NAMES = ", ".join(s.name for s in Severity)


def parse_severity(name: str, *, option: str = "--fail-on") -> Severity:
    """One severity by name, case-insensitive ("high" → HIGH); anything else is named in the error."""
    try:
        return Severity[name.strip().upper()]
    except KeyError:
        raise ReportError(f"unknown severity {name.strip()!r} in {option}; expected one of {SEVERITY_NAMES}") from None


def parse_severity_list(text: str, *, option: str = "--severity") -> frozenset[Severity]:
    """A comma-separated list such as "CRITICAL,HIGH"; an empty list or empty item is an error."""
    items = [item.strip() for item in text.split(",")]
    if all(not item for item in items):
        raise ReportError(f"{option} is empty; expected a comma-separated list of {SEVERITY_NAMES}")
    if any(not item for item in items):
        raise ReportError(f"{option} {text!r} has an empty item; expected e.g. CRITICAL,HIGH")
    return frozenset(parse_severity(item, option=option) for item in items)


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    """Findings per severity, every level present (zero when none), most severe first."""
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in Severity}
