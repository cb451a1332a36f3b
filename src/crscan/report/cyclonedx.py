"""`--format cyclonedx`: a CycloneDX 1.6 JSON SBOM of the image with its vulnerabilities.

Each package is a component (purl, bom-ref, where and in which layer it was found as `crscan:` properties);
each vulnerability id is one entry whose `affects` lists every component it was found in, rated by the
source each rating came from.

The document is built as plain dicts and written with `json.dumps`: going through cyclonedx-python-lib's
object model cost about a minute for 20,000 findings (bench/report_render.py). The library stays the test
suite's schema validator. Lists are in the library's order (components by type, name, version, bom-ref;
vulnerabilities by id; properties by name), so the output is deterministic and diffs stay small.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, ClassVar, TextIO

from packageurl import PackageURL

import crscan
from crscan.model import Finding, LayerRef, Package, ScanReport, Severity

from .interface import ReportFormat
from .licenses import is_spdx_expression

SPEC_VERSION = "1.6"
CDX_SEVERITY = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "high",
    Severity.MEDIUM: "medium",
    Severity.LOW: "low",
    Severity.NEGLIGIBLE: "info",
    Severity.UNDEFINED: "unknown",
}
_SEVERITY_NAMES = ("",) + tuple(CDX_SEVERITY[Severity(value)] for value in range(1, len(Severity) + 1))
# iri-reference: a '%' must start an escape; a URI may carry one fragment only.
_INVALID_URI = re.compile(r"%(?![0-9A-F]{2})|#.*#", re.IGNORECASE | re.MULTILINE)
_URI_ESCAPES = str.maketrans({" ": "%20", '"': "%22", "'": "%27", "[": "%5B", "]": "%5D", "<": "%3C", ">": "%3E",
                              "{": "%7B", "}": "%7D"})

Json = dict[str, Any]
_PackageKey = tuple[str, str, str, str]  # ecosystem, name, version, path


def to_document(report: ScanReport) -> Json:
    """The SBOM as JSON-ready dicts; `serialNumber` and `metadata.timestamp` differ on every call."""
    refs = _BomRefs()
    image_ref = refs.claim(f"image:{report.digest or report.image}")
    image = _drop_empty({
        "bom-ref": image_ref, "type": "container", "name": report.image, "version": report.digest,
        "properties": _properties({"crscan:feed_build_id": report.feed_build_id}),
    })
    components: list[Json] = []
    if report.distro is not None:
        components.append(_drop_empty({
            "bom-ref": refs.claim(f"os:{report.distro.id}@{report.distro.version_id}"),
            "type": "operating-system", "name": report.distro.id, "version": report.distro.version_id,
            "description": report.distro.pretty_name,
        }))
    index = _ComponentIndex()
    for package in report.packages:
        component = _component(package, refs)
        components.append(component)
        index.add((package.ecosystem.value, package.name, package.version, package.path), component["bom-ref"])

    affected: dict[str, list[tuple[Finding, str]]] = defaultdict(list)
    for finding in report.findings:
        key = (finding.source, finding.package, finding.version, finding.path)
        target = index.find(key)
        if target is None:
            # A finding must name the component it affects; synthesize one rather than drop the finding.
            component = _finding_component(finding, refs)
            components.append(component)
            target = component["bom-ref"]
            index.add(key, target)
        affected[finding.name].append((finding, target))

    components.sort(key=_component_order)
    component_refs = sorted(c["bom-ref"] for c in components)
    document: Json = {
        "$schema": f"http://cyclonedx.org/schema/bom-{SPEC_VERSION}.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": uuid.uuid4().urn,
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).isoformat(),
            "tools": {"components": [{"type": "application", "name": "crscan", "version": crscan.__version__}]},
            "component": image,
        },
    }
    if components:
        document["components"] = components
    document["dependencies"] = sorted(
        [_drop_empty({"ref": image_ref, "dependsOn": component_refs}), *({"ref": ref} for ref in component_refs)],
        key=lambda dependency: dependency["ref"])
    if affected:
        document["vulnerabilities"] = [_vulnerability(name, affected[name]) for name in sorted(affected)]
    return document


class _ComponentIndex:
    """bom-refs by (ecosystem, name, version, path); a finding without a path matches any path."""

    def __init__(self) -> None:
        self.exact: dict[_PackageKey, str] = {}
        self.anywhere: dict[tuple[str, str, str], str] = {}

    def add(self, key: _PackageKey, ref: str) -> None:
        self.exact.setdefault(key, ref)
        self.anywhere.setdefault(key[:3], ref)

    def find(self, key: _PackageKey) -> str | None:
        return self.exact.get(key) if key[3] else self.anywhere.get(key[:3])


class _BomRefs:
    """bom-refs must be unique; the same purl can occur twice (one wheel in two virtualenvs)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def claim(self, wanted: str) -> str:
        ref, n = wanted, 1
        while ref in self.used:
            n += 1
            ref = f"{wanted}#{n}"
        self.used.add(ref)
        return ref


def _component(p: Package, refs: _BomRefs) -> Json:
    purl = canonical_purl(p.purl)
    return _drop_empty({
        "bom-ref": refs.claim(p.purl if purl else f"{p.ecosystem.value}:{p.name}@{p.version}"),
        "type": "library",
        "name": p.name,
        "version": p.version,
        "purl": purl,
        "licenses": _licenses(p.licenses),
        "properties": _properties({
            "crscan:ecosystem": p.ecosystem.value,
            "crscan:path": p.path,
            "crscan:arch": p.arch,
            "crscan:source_name": p.source_name,
            "crscan:source_version": p.source_version,
            **_layer_properties(p.layer),
        }),
    })


def _licenses(declared: tuple[str, ...]) -> list[Json]:
    """One SPDX expression as `expression`; otherwise each declared license by name (CycloneDX allows either
    a single expression or a list of licenses)."""
    if len(declared) == 1 and is_spdx_expression(declared[0]):
        return [{"expression": declared[0]}]
    return [{"license": {"name": name}} for name in declared]


def _finding_component(f: Finding, refs: _BomRefs) -> Json:
    return _drop_empty({
        "bom-ref": refs.claim(f"{f.source}:{f.package}@{f.version}"),
        "type": "library",
        "name": f.package,
        "version": f.version,
        "properties": _properties({"crscan:ecosystem": f.source, "crscan:path": f.path,
                                   **_layer_properties(f.layer)}),
    })


def _component_order(component: Json) -> tuple[str, str, bool, str, str]:
    version = component.get("version")
    return component["type"], component["name"], version is None, version or "", component["bom-ref"]


# CycloneDX names the CVSS version in `method` and writes the vector without its "CVSS:x.y/" prefix.
_CVSS_METHODS = {"CVSS:4.0/": "CVSSv4", "CVSS:3.1/": "CVSSv31", "CVSS:3.0/": "CVSSv3"}
_CWE = re.compile(r"^CWE-(\d+)$")


def _rating(severity: str, source: str, vector: str, score: float | None) -> Json:
    rating: Json = {"source": {"name": source} if source else {}}
    if score is not None:
        rating["score"] = score
    rating["severity"] = severity
    if vector:
        # NVD writes v2 vectors without a version prefix ("AV:N/AC:L/Au:N/…").
        method, prefix = next(((m, p) for p, m in _CVSS_METHODS.items() if vector.startswith(p)), ("CVSSv2", ""))
        rating["method"] = method
        rating["vector"] = vector.removeprefix(prefix)
    return rating


def _rating_order(rating: Json) -> tuple[object, ...]:
    """The library's order of ratings: severity, score (none as 0), then source, method and vector, each
    missing one after the present ones."""
    name, method, vector = rating["source"].get("name", ""), rating.get("method", ""), rating.get("vector", "")
    return (rating["severity"], rating.get("score") or 0, not name, name, not method, method, not vector, vector)


def _timestamp(text: str) -> str:
    """An NVD timestamp (UTC, no zone) as RFC 3339; "" when it is not one."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()


def _vulnerability(name: str, pairs: list[tuple[Finding, str]]) -> Json:
    first = pairs[0][0]
    feed = {"name": first.feed} if first.feed else {}
    source = dict(feed)
    url = _uri(first.link)
    if url:
        source["url"] = url
    vulnerability: Json = {"bom-ref": f"vuln:{name}", "id": name, "source": source}
    advisories = sorted({i for f, _ in pairs for i in (f.advisory_id, *f.aliases) if i and i != name})
    if advisories:
        vulnerability["references"] = [{"id": advisory, "source": feed} for advisory in advisories]
    # Enum hashing runs Python code; the severity's int value indexes the name instead.
    scores: dict[tuple[str, str, str], float | None] = {}  # one rating per (severity, source, vector): the first
    for f, _ in pairs:
        scores.setdefault((_SEVERITY_NAMES[f.severity], f.severity_source, f.cvss_vector), f.cvss_score)
    ratings = [_rating(severity, source, vector, score) for (severity, source, vector), score in scores.items()]
    vulnerability["ratings"] = sorted(ratings, key=_rating_order)
    detail = next((f.detail for f, _ in pairs if f.detail is not None), None)
    if detail is not None:
        # A set, as the library; numbers below 1 (a "CWE-0" in the data) are not CWE ids and fail the schema.
        cwes = sorted({n for cwe in detail.cwes if (m := _CWE.match(cwe)) and (n := int(m.group(1))) > 0})
        if cwes:
            vulnerability["cwes"] = cwes
        if detail.description:
            vulnerability["description"] = detail.description
    fixes = sorted({f"{f.package} {f.fixed_by}" for f, _ in pairs if f.fixed_by})
    if fixes:
        vulnerability["recommendation"] = "Upgrade to " + ", ".join(fixes)
    if detail is not None:
        urls = sorted(set(filter(None, map(_uri, detail.references))))  # a set, as the library keeps them
        advisories_urls = [{"url": url} for url in urls]
        if advisories_urls:
            vulnerability["advisories"] = advisories_urls
        for key, text in (("published", detail.published), ("updated", detail.modified)):
            if when := _timestamp(text):
                vulnerability[key] = when
    kev = next((f.kev for f, _ in pairs if f.kev is not None), None)
    epss = next((f.epss for f, _ in pairs if f.epss is not None), None)
    risk = {"crscan:kev": "true"} if kev else {}
    if kev:
        risk.update({"crscan:kev:dateAdded": kev.date_added, "crscan:kev:dueDate": kev.due_date})
    if epss:
        risk.update({"crscan:epss:score": f"{epss.score:g}", "crscan:epss:percentile": f"{epss.percentile:g}",
                     "crscan:epss:date": epss.score_date})
    if risk:
        vulnerability["properties"] = _properties(risk)
    analysis = _analysis(pairs)
    if analysis:
        vulnerability["analysis"] = analysis
    # One entry per (component, version); unversioned entries last, as the library orders them.
    targets = sorted({(ref, finding.version) for finding, ref in pairs},
                     key=lambda target: (target[0], not target[1], target[1]))
    vulnerability["affects"] = [{"ref": ref, "versions": [{"version": version, "status": "affected"}]}
                                if version else {"ref": ref} for ref, version in targets]
    return vulnerability


# A vendor's stated reason for no fix -> CycloneDX's analysis response (the vulnerability is still exploitable).
_RESPONSES = {"will_not_fix": "will_not_fix", "fix_deferred": "can_not_fix", "end_of_life": "can_not_fix"}


def _analysis(pairs: list[tuple[Finding, str]]) -> Json:
    """CycloneDX's analysis of what vendors state without a fix (`status`): "in_triage" while every one is under
    investigation, else exploitable with the responses their words mean; {} when no vendor states a reason."""
    stated = sorted({(f.package, f.status) for f, _ in pairs if f.status in (*_RESPONSES, "under_investigation")})
    if not stated:
        return {}
    triage = all(f.status == "under_investigation" for f, _ in pairs)
    analysis: Json = {"state": "in_triage" if triage else "exploitable"}
    responses = sorted({_RESPONSES[status] for _, status in stated if status in _RESPONSES})
    if responses:
        analysis["response"] = responses
    analysis["detail"] = "Vendor status: " + ", ".join(f"{package} {status}" for package, status in stated)
    return analysis


def canonical_purl(text: str) -> str:
    """The purl in canonical form, or "" when malformed (left out rather than making the SBOM invalid)."""
    if not text:
        return ""
    try:
        return str(PackageURL.from_string(text).to_string())
    except ValueError:
        return ""


def _uri(link: str) -> str:
    """`link` as an iri-reference (spaces, quotes and brackets escaped), or "" when it cannot be one."""
    if not link or _INVALID_URI.search(link):
        return ""
    return link.translate(_URI_ESCAPES)


def _layer_properties(layer: LayerRef | None) -> dict[str, str]:
    if layer is None:
        return {}
    return {"crscan:layer:digest": layer.digest, "crscan:layer:diff_id": layer.diff_id}


def _properties(values: dict[str, str]) -> list[Json]:
    return [{"name": k, "value": v} for k, v in sorted(values.items()) if v]


def _drop_empty(item: Json) -> Json:
    """CycloneDX leaves out absent fields rather than writing empty strings or lists."""
    return {k: v for k, v in item.items() if v != "" and v != []}


def to_json(report: ScanReport) -> str:
    """Top-level fields one per line and list items one per line, each item compact: `json.dumps` with `indent`
    runs the pure-Python encoder, several times slower than the C one on 20,000 vulnerabilities."""
    lines = []
    for key, value in to_document(report).items():
        if isinstance(value, list) and value:
            items = ",\n".join("    " + _compact(item) for item in value)
            lines.append(f"  {_compact(key)}: [\n{items}\n  ]")
        else:
            lines.append(f"  {_compact(key)}: {_compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"


_compact = json.JSONEncoder(separators=(", ", ": ")).encode


class CycloneDxFormat(ReportFormat):
    name: ClassVar[str] = "cyclonedx"

    def write(self, report: ScanReport, stream: TextIO) -> None:
        stream.write(to_json(report))
        stream.write("\n")
