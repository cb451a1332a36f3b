"""`--format json`: the report as one JSON document, described by `schema/report.schema.json`.

The schema is the contract: fields are only ever added (bumping nothing); renaming or removing one bumps
`schema_version`. Field names follow `crscan.model` so the document reads like the dataclasses.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, ClassVar, TextIO

from crscan.model import AdvisoryDetail, Distro, Finding, LayerRef, Package, ScanReport, finding_status

from .interface import ReportFormat
from .severity import severity_counts

SCHEMA_VERSION = 1


@functools.cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every document `to_document` builds conforms to."""
    schema: dict[str, Any] = json.loads(
        resources.files(__package__).joinpath("schema/report.schema.json").read_text("utf-8")
    )
    return schema


def to_document(report: ScanReport) -> dict[str, Any]:
    counts = severity_counts(report.findings)
    return {
        "schema_version": SCHEMA_VERSION,
        "image": report.image,
        "digest": report.digest,
        "distro": _distro(report.distro),
        "feed_build_id": report.feed_build_id,
        "layers": [_layer(layer) for layer in report.layers],
        "packages": [_package(p) for p in report.packages],
        "findings": [_finding(f) for f in report.findings],
        "warnings": list(report.warnings),
        "summary": {
            "packages": len(report.packages),
            "findings": len(report.findings),
            "fixable": sum(1 for f in report.findings if f.fixed_by),
            "by_severity": {s.name: n for s, n in counts.items()},
        },
    }


def _distro(distro: Distro | None) -> dict[str, str] | None:
    if distro is None:
        return None
    return {"id": distro.id, "version_id": distro.version_id, "codename": distro.codename,
            "pretty_name": distro.pretty_name}


def _layer(layer: LayerRef | None) -> dict[str, str] | None:
    return None if layer is None else {"digest": layer.digest, "diff_id": layer.diff_id}


def _package(p: Package) -> dict[str, Any]:
    return {
        "ecosystem": p.ecosystem.value,
        "name": p.name,
        "version": p.version,
        "purl": p.purl,
        "arch": p.arch,
        "source_name": p.source_name,
        "source_version": p.source_version,
        "path": p.path,
        "layer": _layer(p.layer),
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "name": f.name,
        "advisory_id": f.advisory_id,
        "link": f.link,
        "package": f.package,
        "source": f.source,
        "version": f.version,
        "fixed_by": f.fixed_by,
        "status": f.status or finding_status(f.fixed_by),
        "origin": f.origin,
        "type": f.type,
        "severity": f.severity.name,
        "severity_source": f.severity_source,
        "feed": f.feed,
        "path": f.path,
        "layer": _layer(f.layer),
        "aliases": list(f.aliases),
        "cvss_vector": f.cvss_vector,
        "cvss_score": f.cvss_score,
        "detail": _detail(f.detail),
        "kev": {"date_added": f.kev.date_added, "due_date": f.kev.due_date} if f.kev else None,
        "epss": {"score": f.epss.score, "percentile": f.epss.percentile, "date": f.epss.score_date} if f.epss else None,
    }


def _detail(d: AdvisoryDetail | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "description": d.description,
        "cwes": list(d.cwes),
        "published": d.published,
        "modified": d.modified,
        "references": list(d.references),
        "cve_status": d.cve_status,
        "nvd_cvss_vector": d.nvd_cvss_vector,
        "nvd_cvss_score": d.nvd_cvss_score,
    }


class JsonFormat(ReportFormat):
    name: ClassVar[str] = "json"

    def write(self, report: ScanReport, stream: TextIO) -> None:
        # ASCII-only JSON survives any stream encoding (LANG=C, a Windows console).
        json.dump(to_document(report), stream, indent=2)
        stream.write("\n")
