"""The CycloneDX renderer as it was before crscan wrote the document itself: through cyclonedx-python-lib's model.

Kept as the oracle of tests/report/test_cyclonedx.py (the same report must give the same document), not used by
crscan. Copied unchanged from src/crscan/report/cyclonedx.py at 668dab9 except for imports and this docstring.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from cyclonedx.exception.model import InvalidUriException
from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.impact_analysis import ImpactAnalysisAffectedStatus
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

import crscan
from crscan.model import Finding, LayerRef, Package, ScanReport, Severity

CDX_SEVERITY = {
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL,
    Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM,
    Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.NEGLIGIBLE: VulnerabilitySeverity.INFO,
    Severity.UNDEFINED: VulnerabilitySeverity.UNKNOWN,
}

_PackageKey = tuple[str, str, str, str]  # ecosystem, name, version, path


def to_bom(report: ScanReport) -> Bom:
    refs = _BomRefs()
    image = Component(
        type=ComponentType.CONTAINER,
        name=report.image,
        version=report.digest or None,
        bom_ref=refs.claim(f"image:{report.digest or report.image}"),
        properties=_properties({"crscan:feed_build_id": report.feed_build_id}),
    )
    bom = Bom(metadata=BomMetaData(
        component=image,
        tools=ToolRepository(components=[Component(type=ComponentType.APPLICATION, name="crscan",
                                                   version=crscan.__version__)]),
    ))
    if report.distro is not None:
        bom.components.add(Component(
            type=ComponentType.OPERATING_SYSTEM,
            name=report.distro.id,
            version=report.distro.version_id or None,
            description=report.distro.pretty_name or None,
            bom_ref=refs.claim(f"os:{report.distro.id}@{report.distro.version_id}"),
        ))
    index = _ComponentIndex()
    for package in report.packages:
        component = _component(package, refs)
        bom.components.add(component)
        index.add((package.ecosystem.value, package.name, package.version, package.path), component)

    affected: dict[str, list[tuple[Finding, Component]]] = defaultdict(list)
    for finding in report.findings:
        key = (finding.source, finding.package, finding.version, finding.path)
        target = index.find(key)
        if target is None:
            # A finding must name the component it affects; synthesize one rather than drop the finding.
            target = _finding_component(finding, refs)
            index.add(key, target)
            bom.components.add(target)
        affected[finding.name].append((finding, target))
    for name, pairs in affected.items():
        bom.vulnerabilities.add(_vulnerability(name, pairs))
    bom.register_dependency(image, bom.components)
    return bom


class _ComponentIndex:
    """Components by (ecosystem, name, version, path); a finding without a path matches any path."""

    def __init__(self) -> None:
        self.exact: dict[_PackageKey, Component] = {}
        self.anywhere: dict[tuple[str, str, str], Component] = {}

    def add(self, key: _PackageKey, component: Component) -> None:
        self.exact.setdefault(key, component)
        self.anywhere.setdefault(key[:3], component)

    def find(self, key: _PackageKey) -> Component | None:
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


def _component(p: Package, refs: _BomRefs) -> Component:
    purl = _parse_purl(p.purl)
    return Component(
        type=ComponentType.LIBRARY,
        name=p.name,
        version=p.version or None,
        purl=purl,
        bom_ref=refs.claim(p.purl if purl else f"{p.ecosystem.value}:{p.name}@{p.version}"),
        properties=_properties({
            "crscan:ecosystem": p.ecosystem.value,
            "crscan:path": p.path,
            "crscan:arch": p.arch,
            "crscan:source_name": p.source_name,
            "crscan:source_version": p.source_version,
            **_layer_properties(p.layer),
        }),
    )


def _finding_component(f: Finding, refs: _BomRefs) -> Component:
    return Component(
        type=ComponentType.LIBRARY,
        name=f.package,
        version=f.version or None,
        bom_ref=refs.claim(f"{f.source}:{f.package}@{f.version}"),
        properties=_properties({"crscan:ecosystem": f.source, "crscan:path": f.path, **_layer_properties(f.layer)}),
    )


def _ref(component: Component) -> str:
    ref = component.bom_ref.value
    assert ref is not None  # every component here gets its bom-ref from _BomRefs.claim
    return ref


_CVSS_METHODS = {"CVSS:4.0/": VulnerabilityScoreSource.CVSS_V4, "CVSS:3.1/": VulnerabilityScoreSource.CVSS_V3_1,
                 "CVSS:3.0/": VulnerabilityScoreSource.CVSS_V3}
_CWE = re.compile(r"^CWE-(\d+)$")


def _method(vector: str) -> VulnerabilityScoreSource | None:
    if not vector:
        return None
    # NVD writes v2 vectors without a version prefix ("AV:N/AC:L/Au:N/…").
    return next((m for prefix, m in _CVSS_METHODS.items() if vector.startswith(prefix)),
                VulnerabilityScoreSource.CVSS_V2)


def _published(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # NVD's timestamps are UTC without a zone


def _vulnerability(name: str, pairs: list[tuple[Finding, Component]]) -> Vulnerability:
    first = pairs[0][0]
    ratings: dict[tuple[str, Severity, str], VulnerabilityRating] = {}
    for finding, _ in pairs:
        ratings.setdefault((finding.severity_source, finding.severity, finding.cvss_vector), VulnerabilityRating(
            source=VulnerabilitySource(name=finding.severity_source or None),
            severity=CDX_SEVERITY[finding.severity],
            score=Decimal(str(finding.cvss_score)) if finding.cvss_score is not None else None,
            vector=finding.cvss_vector or None,
            method=_method(finding.cvss_vector),
        ))
    detail = next((f.detail for f, _ in pairs if f.detail is not None), None)
    fixes = sorted({f"{f.package} {f.fixed_by}" for f, _ in pairs if f.fixed_by})
    advisories = sorted({i for f, _ in pairs for i in (f.advisory_id, *f.aliases) if i and i != name})
    source = VulnerabilitySource(name=first.feed or None, url=_uri(first.link))
    return Vulnerability(
        bom_ref=f"vuln:{name}",
        id=name,
        source=source,
        references=[VulnerabilityReference(id=advisory, source=VulnerabilitySource(name=first.feed or None))
                    for advisory in advisories],
        ratings=ratings.values(),
        description=detail.description or None if detail else None,
        # CWE numbers below 1 fail the schema: dropped, as by the writer (the renderer frozen here kept them)
        cwes=[n for cwe in detail.cwes if (m := _CWE.match(cwe)) and (n := int(m.group(1))) > 0] if detail else None,
        published=_published(detail.published) if detail else None,
        updated=_published(detail.modified) if detail else None,
        advisories=[VulnerabilityAdvisory(url=uri) for url in detail.references if (uri := _uri(url))]
        if detail else None,
        recommendation=("Upgrade to " + ", ".join(fixes)) if fixes else None,
        affects=[
            BomTarget(ref=_ref(component), versions=[
                BomTargetVersionRange(version=finding.version, status=ImpactAnalysisAffectedStatus.AFFECTED),
            ] if finding.version else None)
            for finding, component in pairs
        ],
    )


def _parse_purl(text: str) -> PackageURL | None:
    if not text:
        return None
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None  # a malformed purl is left out rather than making the whole SBOM invalid


def _uri(link: str) -> XsUri | None:
    if not link:
        return None
    try:
        return XsUri(link)
    except InvalidUriException:
        return None


def _layer_properties(layer: LayerRef | None) -> dict[str, str]:
    if layer is None:
        return {}
    return {"crscan:layer:digest": layer.digest, "crscan:layer:diff_id": layer.diff_id}


def _properties(values: dict[str, str]) -> list[Property]:
    return [Property(name=k, value=v) for k, v in values.items() if v]


def to_json(report: ScanReport) -> str:
    return JsonV1Dot6(to_bom(report)).output_as_string(indent=2)
