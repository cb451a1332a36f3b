"""Ordering findings for triage: `crscan scan --sort package|severity|risk` (docs/severity.md, "Risk ordering").

`risk` puts findings whose CVE is in CISA's KEV catalog first (known exploited beats any prediction), then
orders by EPSS × severity weight, highest first:

    risk = epss × weight(severity)   weight: CRITICAL 1.0, HIGH 0.75, MEDIUM 0.5, LOW 0.25, NEGLIGIBLE 0.1,
                                             UNDEFINED 0.5 (unrated is not harmless: counted as MEDIUM)

A finding without an EPSS score has risk 0 and follows those with one; ties go to the higher severity, then
the higher EPSS, then package and id, so the order is total and repeatable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from crscan.model import Finding, ScanReport, Severity

from .interface import ReportError

SORTS = ("package", "severity", "risk")
SEVERITY_WEIGHT = {
    Severity.CRITICAL: 1.0, Severity.HIGH: 0.75, Severity.MEDIUM: 0.5, Severity.LOW: 0.25,
    Severity.NEGLIGIBLE: 0.1, Severity.UNDEFINED: 0.5,
}


def risk_score(finding: Finding) -> float:
    """EPSS × severity weight; 0.0 when the finding's CVEs have no EPSS score."""
    return finding.epss.score * SEVERITY_WEIGHT[finding.severity] if finding.epss is not None else 0.0


def _risk_key(f: Finding) -> tuple[Any, ...]:
    return (f.kev is None, -risk_score(f), f.severity, -(f.epss.score if f.epss else -1.0), f.package, f.name,
            f.path)


def _severity_key(f: Finding) -> tuple[Any, ...]:
    return (f.severity, f.package, f.name, f.path)


def _package_key(f: Finding) -> tuple[Any, ...]:
    return (f.package, f.severity, f.name, f.path)


def sort_key(by: str) -> Callable[[Finding], tuple[Any, ...]]:
    """The key ordering findings by `by` (one of SORTS)."""
    keys = {"package": _package_key, "severity": _severity_key, "risk": _risk_key}
    if by not in keys:
        raise ReportError(f"unknown sort {by!r}; expected one of {', '.join(SORTS)}")
    return keys[by]


def sort_findings(report: ScanReport, by: str) -> ScanReport:
    """The report with its findings in `by` order (what JSON, SARIF and CycloneDX list them in)."""
    return dataclasses.replace(report, findings=tuple(sorted(report.findings, key=sort_key(by))))
