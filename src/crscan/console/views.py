"""What each page shows, shaped from API messages (and the few stored fields the protos lack) for the templates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, timestamp_pb2
from sqlalchemy import Row
from yandex.cloud.containerregistry.v1 import (
    image_pb2,
    image_service_pb2,
    registry_service_pb2,
    scan_policy_pb2,
    scanner_pb2,
    scanner_service_pb2,
)

from crscan.api.errors import failed_precondition, invalid_argument
from crscan.auth import TokenRecord
from crscan.console.bridge import ConsoleApi, KevCount
from crscan.console.interface import ConsoleError
from crscan.model import EpssScore, Finding, KevFlag, LayerRef, ScanReport, Severity
from crscan.report import get_format
from crscan.store import schema

SEVERITIES = ("critical", "high", "medium", "low", "negligible", "undefined")
SEVERITY_BY_NUMBER = {n: name for n, name in enumerate(SEVERITIES, start=1)}
FINDINGS_PAGE = 250  # rows per page of the findings table; the counts above it cover every finding
HISTORY_RUNS = 10  # runs in the history table, each diffed against the one before it
OVERVIEW_IMAGES = 1000  # the overview reads at most this many images' last scans, and says so when it stops
EXPORTS = {"json": ("json", "application/json", "json"), "sarif": ("sarif", "application/sarif+json", "sarif"),
           "cyclonedx": ("cyclonedx", "application/vnd.cyclonedx+json", "cdx.json")}
# The risk signals a stored finding may carry; a column shows when any finding of the scan has one.
RISK_FIELDS = (("kev", "KEV"), ("epss", "EPSS"), ("cvss", "CVSS"))
EXPORT_WARNING = ("exported from a stored scan: the package inventory is not stored, so this report lists the "
                  "vulnerable packages only")


class FormError(ConsoleError):
    """A form value the console cannot turn into a request; the message names the field."""


# ---- formatting filters ---------------------------------------------------------------------------------

def _when(value: dt.datetime | timestamp_pb2.Timestamp | None) -> str:
    if isinstance(value, timestamp_pb2.Timestamp):
        if not value.seconds:
            return "—"  # unset: a running scan has no finish time
        value = value.ToDatetime()
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


def _size(value: int) -> str:
    if value < 1024:
        return f"{value} B"
    scaled = float(value)
    for unit in ("KiB", "MiB", "GiB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GiB":
            break
    return f"{scaled:.1f} {unit}"


def _short(digest: str) -> str:
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:12]}" if hex_part else digest


def _status(scan: scanner_pb2.ScanResult | None) -> str:
    if scan is None:
        return "never scanned"
    return str(scanner_pb2.ScanResult.Status.Name(scan.status)).lower()


def _counts(stats: scanner_pb2.VulnerabilityStats) -> dict[str, int]:
    return {name: int(getattr(stats, name)) for name in SEVERITIES}


FILTERS = {"when": _when, "size": _size, "short": _short, "status": _status, "counts": _counts}


# ---- lists ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageRow:
    image: image_pb2.Image
    last_scan: scanner_pb2.ScanResult | None


@dataclass
class Overview:
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    images: int = 0
    truncated: bool = False
    never_scanned: list[image_pb2.Image] = field(default_factory=list)
    old_feed: list[tuple[image_pb2.Image, str]] = field(default_factory=list)  # with the feed build it used
    running: list[image_pb2.Image] = field(default_factory=list)
    failed: list[image_pb2.Image] = field(default_factory=list)
    kev: list[tuple[image_pb2.Image, KevCount]] = field(default_factory=list)  # most known-exploited first
    # Images whose last scan could not flag KEV findings (its feed build had no KEV data, or it was stored
    # before crscan kept the flag): absent from `kev` for want of data, not for want of findings.
    kev_unknown: list[image_pb2.Image] = field(default_factory=list)
    feed: dict[str, Any] | None = None
    feed_error: str = ""


def overview(api: ConsoleApi, token: str, folder: str, feed_db_path: Path | None) -> Overview:
    """Totals over the last finished scan of every image the caller can see (through the same List calls)."""
    summary = Overview()
    summary.feed, summary.feed_error = _feed_status(feed_db_path)
    last_scans: dict[str, scanner_pb2.ScanResult] = {}
    images: list[image_pb2.Image] = []
    for registry in _all(api, token, "RegistryService", registry_service_pb2.ListRegistriesRequest(folder_id=folder),
                         "registries"):
        request = image_service_pb2.ListImagesRequest(registry_id=registry.id)
        for image in _all(api, token, "ImageService", request, "images"):
            if len(images) >= OVERVIEW_IMAGES:
                summary.truncated = True
                break
            images.append(image)
    for image in images:
        recent = api.call(token, "ScannerService", "List",
                          scanner_service_pb2.ListScanResultsRequest(image_id=image.id, page_size=2)).scan_results
        if not recent:
            summary.never_scanned.append(image)
            continue
        if recent[0].status == scanner_pb2.ScanResult.RUNNING:
            summary.running.append(image)
        finished = next((s for s in recent if s.status != scanner_pb2.ScanResult.RUNNING), None)
        if finished is None:
            continue
        if finished.status == scanner_pb2.ScanResult.ERROR:
            summary.failed.append(image)
        last_scans[image.id] = finished
    summary.images = len(images)
    details = api.scan_details(token, [s.id for s in last_scans.values()])
    ready = {image_id: scan.id for image_id, scan in last_scans.items() if scan.status == scanner_pb2.ScanResult.READY}
    kev_counts = api.kev_counts(token, list(ready.values())) if ready else {}
    current_build = summary.feed["build_id"] if summary.feed else ""
    for image in images:
        scan = last_scans.get(image.id)
        if scan is None or scan.status != scanner_pb2.ScanResult.READY:
            continue
        for name, count in _counts(scan.vulnerabilities).items():
            summary.totals[name] += count
        row = details.get(scan.id)
        build = row.feed_build_id if row is not None else ""
        if current_build and build != current_build:
            summary.old_feed.append((image, build))
        if scan.id in kev_counts:
            summary.kev.append((image, kev_counts[scan.id]))
        elif row is None or row.missing_risk_feeds is None or "KEV" in row.missing_risk_feeds:
            summary.kev_unknown.append(image)
    summary.kev.sort(key=lambda pair: (-pair[1].findings, -pair[1].fixable, pair[0].name))
    return summary


def missing_risk_notice(build_id: str, missing: list[str] | tuple[str, ...] | None) -> str:
    """What a scan's findings cannot show for want of risk data; "" when its build had KEV and EPSS."""
    build = build_id or "unknown"
    if missing is None:
        return (f"KEV/EPSS not recorded for this scan (feed build {build}): it was stored before crscan kept "
                "them; scan again to see them")
    return f"no {'/'.join(missing)} data in feed build {build}" if missing else ""


def _all(api: ConsoleApi, token: str, service: str, request: Any, items: str) -> Iterator[Any]:
    """Every item of a List call, following its page tokens."""
    request.page_size = 1000
    while True:
        response = api.call(token, service, "List", request)
        yield from getattr(response, items)
        if not response.next_page_token:
            return
        request.page_token = response.next_page_token


def _feed_status(path: Path | None) -> tuple[dict[str, Any] | None, str]:
    from crscan.vulndb import FeedDB
    from crscan.vulndb.enrichment import missing_risk_feeds

    if path is None:
        return None, "this server has no feed DB configured"
    try:
        with FeedDB.open(path) as feeds:
            built = dt.datetime.strptime(feeds.built_at, "%Y-%m-%dT%H:%M:%SZ") if feeds.built_at else None
            age = dt.datetime.now(dt.UTC).replace(tzinfo=None) - built if built else None
            return {
                "build_id": feeds.build_id, "built_at": built,
                "age_hours": round(age.total_seconds() / 3600, 1) if age is not None else None,
                "sources": [(s.name, s.records, s.fetched_at) for s in feeds.sources],
                "risk_notice": missing_risk_notice(feeds.build_id, missing_risk_feeds(feeds)),
            }, ""
    except Exception as e:  # the overview still renders; it says why the feed status is missing
        return None, str(e).splitlines()[0] if str(e) else type(e).__name__


# ---- image page -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FindingQuery:
    severity: str = ""
    fixable: bool = False
    package: str = ""
    ecosystem: str = ""
    kev: bool = False
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> FindingQuery:
        severity = params.get("severity", "").lower()
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            severity=severity if severity in SEVERITIES else "",
            fixable=params.get("fixable", "") in ("1", "on", "true"),
            package=params.get("package", "").strip()[:200],
            ecosystem=params.get("ecosystem", "").strip()[:64],
            kev=params.get("kev", "") in ("1", "on", "true"),
            page=page,
        )

    def matches(self, row: Row[Any]) -> bool:
        return (
            (not self.severity or SEVERITY_BY_NUMBER.get(row.severity) == self.severity)
            and (not self.fixable or bool(row.fixed_by))
            and (not self.package or self.package.lower() in row.package.lower())
            and (not self.ecosystem or self.ecosystem == row.source)
            and (not self.kev or bool(row.kev))
        )

    @property
    def active(self) -> bool:
        return bool(self.severity or self.fixable or self.package or self.ecosystem or self.kev)


@dataclass(frozen=True)
class FindingView:
    row: Row[Any]  # a `findings` row
    severity: str
    layer_position: int | None  # 1-based position of the layer in the image, None when unknown
    is_new: bool  # not found by the previous finished run
    risk: dict[str, tuple[str, str]]  # RISK_FIELDS name -> (cell text, its title); absent: no value


@dataclass
class HistoryRun:
    scan: scanner_pb2.ScanResult
    feed_build: str
    new: int | None  # None for the oldest run shown (nothing to compare with)
    fixed: int | None


@dataclass
class ImageDetail:
    last: scanner_pb2.ScanResult | None  # newest finished scan
    latest: scanner_pb2.ScanResult | None  # newest scan, maybe running
    last_row: schema.ScanResult | None
    history: list[HistoryRun]
    findings: list[FindingView]  # this page of the filtered findings
    matched: int  # findings passing the filters
    total: int
    query: FindingQuery
    pages: int
    ecosystems: list[str]
    layers: list[dict[str, Any]]
    risk_columns: list[tuple[str, str]]
    risk_notice: str  # what the findings cannot show for want of KEV/EPSS data in the scan's feed build
    fixed_since: list[tuple[str, str]]  # (vulnerability, package) the previous run had and the last does not


def image_detail(api: ConsoleApi, token: str, image: image_pb2.Image, query: FindingQuery) -> ImageDetail:
    runs = list(api.call(token, "ScannerService", "List", scanner_service_pb2.ListScanResultsRequest(
        image_id=image.id, page_size=HISTORY_RUNS)).scan_results)
    latest = runs[0] if runs else None
    finished = [run for run in runs if run.status != scanner_pb2.ScanResult.RUNNING]
    ready = [run for run in finished if run.status == scanner_pb2.ScanResult.READY]
    last = finished[0] if finished else None
    last_ready = last if last is not None and last.status == scanner_pb2.ScanResult.READY else None
    stored = api.image_history(token, [run.id for run in finished], [run.id for run in ready],
                               last_ready.id if last_ready else "")
    details, rows, keys = stored.details, stored.findings, stored.keys
    history = []
    for run in finished:
        previous = next((r for r in ready if r.scanned_at.ToDatetime() < run.scanned_at.ToDatetime()), None)
        new = fixed = None
        if run.status == scanner_pb2.ScanResult.READY and previous is not None:
            new = len(keys[run.id] - keys[previous.id])
            fixed = len(keys[previous.id] - keys[run.id])
        history.append(HistoryRun(run, details[run.id].feed_build_id if run.id in details else "", new, fixed))
    previous_keys: set[tuple[str, str]] | None = None
    if last is not None and last in ready:
        earlier = ready[ready.index(last) + 1:]
        previous_keys = keys[earlier[0].id] if earlier else None
    positions = {layer.digest: i for i, layer in enumerate(image.layers, start=1)}
    matching = [row for row in rows if query.matches(row)]
    pages = max(1, -(-len(matching) // FINDINGS_PAGE))
    page = min(query.page, pages)
    shown = matching[(page - 1) * FINDINGS_PAGE: page * FINDINGS_PAGE]
    findings = [
        FindingView(row, SEVERITY_BY_NUMBER.get(row.severity, "undefined"), positions.get(row.layer_digest),
                    previous_keys is not None and (row.name, row.package) not in previous_keys, risk_cells(row))
        for row in shown
    ]
    last_row = details.get(last.id) if last else None
    introduced = Counter(row.layer_digest for row in rows)
    layers = [{"position": i, "digest": layer.digest, "size": layer.size, "findings": introduced.get(layer.digest, 0)}
              for i, layer in enumerate(image.layers, start=1)]
    fixed_since = sorted(previous_keys - keys[last.id]) if last is not None and previous_keys is not None else []
    return ImageDetail(
        last=last, latest=latest, last_row=last_row, history=history,
        findings=findings, matched=len(matching), total=len(rows), query=replace_page(query, page), pages=pages,
        ecosystems=sorted({row.source for row in rows}), layers=layers,
        risk_columns=[(name, label) for name, label in RISK_FIELDS if any(risk_cells(row).get(name) for row in rows)],
        risk_notice=missing_risk_notice(last_row.feed_build_id, last_row.missing_risk_feeds)
        if last_row is not None and last_row.status == scanner_pb2.ScanResult.READY else "",
        fixed_since=fixed_since,
    )


def risk_cells(row: Row[Any]) -> dict[str, tuple[str, str]]:
    """The stored risk signals of a finding as table cells (text, title); a signal it lacks is absent."""
    cells = {}
    if row.kev:
        cells["kev"] = ("KEV", f"in CISA's KEV catalog since {row.kev_date_added}; due {row.kev_due_date}")
    if row.epss_score is not None:
        percentile = row.epss_percentile or 0.0
        cells["epss"] = (f"{row.epss_score:.3f} p{int(percentile * 100)}",
                         f"EPSS {row.epss_score:g}: percentile {percentile:g} on {row.epss_date}")
    if row.cvss_score is not None:
        cells["cvss"] = (f"{row.cvss_score:.1f}", row.cvss_vector)
    return cells


def replace_page(query: FindingQuery, page: int) -> FindingQuery:
    return dataclasses.replace(query, page=page)


def export(api: ConsoleApi, token: str, image: image_pb2.Image, name: str, scan_result_id: str
           ) -> tuple[str, str, str]:
    """The stored scan as a report file in the CLI's own formats. The store keeps findings, not the package
    inventory, so the export says that in its warnings rather than presenting an empty inventory as complete."""
    if name not in EXPORTS:
        raise invalid_argument(f"unknown export format {name!r}; one of {', '.join(EXPORTS)}")
    if scan_result_id:
        scan = api.call(token, "ScannerService", "Get",
                        scanner_service_pb2.GetScanResultRequest(scan_result_id=scan_result_id))
        if scan.image_id != image.id:
            raise invalid_argument(f"scan result {scan_result_id} is not a scan of image {image.id}")
    else:
        scan = api.call(token, "ScannerService", "GetLast",
                        scanner_service_pb2.GetLastScanResultRequest(image_id=image.id))
    if scan.status != scanner_pb2.ScanResult.READY:
        raise failed_precondition(f"scan result {scan.id} did not succeed: there is no report to export")
    scan_result_id = scan.id
    row = api.scan_details(token, [scan_result_id])[scan_result_id]
    findings = tuple(_finding(f) for f in api.findings(token, scan_result_id))
    reference = f"{image.name}:{image.tags[0]}" if image.tags else f"{image.name}@{image.digest}"
    report = ScanReport(
        image=reference, digest=image.digest, distro=None, packages=(), findings=findings,
        warnings=(*row.warnings, EXPORT_WARNING,
                  *filter(None, [missing_risk_notice(row.feed_build_id, row.missing_risk_feeds)])),
        feed_build_id=row.feed_build_id, layers=tuple(LayerRef(layer.digest, "") for layer in image.layers),
    )
    format_name, media_type, extension = EXPORTS[name]
    out = io.StringIO()
    get_format(format_name).write(report, out)
    return out.getvalue(), media_type, extension


def _finding(row: Row[Any]) -> Finding:
    return Finding(
        name=row.name, advisory_id=row.advisory_id, link=row.link, package=row.package, source=row.source,
        version=row.version, fixed_by=row.fixed_by, status=row.status, origin=row.origin, type=row.type,
        severity=Severity(row.severity) if row.severity in {s.value for s in Severity} else Severity.UNDEFINED,
        severity_source=row.severity_source, layer=LayerRef(row.layer_digest, "") if row.layer_digest else None,
        path=row.path, cvss_vector=row.cvss_vector, cvss_score=row.cvss_score,
        kev=KevFlag(row.kev_date_added, row.kev_due_date) if row.kev else None,
        epss=EpssScore(row.epss_score, row.epss_percentile or 0.0, row.epss_date) if row.epss_score is not None
        else None,
    )


# ---- policies and tokens --------------------------------------------------------------------------------

def policy_form(policy: scan_policy_pb2.ScanPolicy | None) -> dict[str, str]:
    if policy is None:
        rules = scan_policy_pb2.ScanRules(push_rule=scan_policy_pb2.PushRule(repository_prefixes=["*"]))
        return {"name": "default", "description": "", "rules": _rules_json(rules)}
    return {"name": policy.name, "description": policy.description, "rules": _rules_json(policy.rules)}


def _rules_json(rules: scan_policy_pb2.ScanRules) -> str:
    return json.dumps(json_format.MessageToDict(rules), indent=2)


def parse_rules(text: str) -> scan_policy_pb2.ScanRules:
    rules = scan_policy_pb2.ScanRules()
    try:
        json_format.Parse(text or "{}", rules)
    except json_format.ParseError as e:
        raise FormError(f"rules: {e}") from None
    return rules


def token_rows(records: Iterable[TokenRecord], now: dt.datetime) -> list[dict[str, Any]]:
    return [{"record": r, "state": r.state(now),
             "scope": ", ".join(sorted(r.registries)) if r.registries is not None else "every registry"}
            for r in records]
