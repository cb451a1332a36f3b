"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning, one rule per vulnerability, one result per finding.

Shaped like Trivy's SARIF output so code-scanning dashboards treat both alike: results point at the file the
package was found in, relative to the image root (`ROOTPATH` = `file:///`), and rules carry the numeric
`security-severity` GitHub buckets alerts by.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, ClassVar, TextIO
from urllib.parse import quote

import crscan
from crscan.model import Finding, ScanReport, Severity, finding_status

from .interface import ReportFormat

SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
ROOT_BASE_ID = "ROOTPATH"
# helpUri must be an RFC 3986 URI; a link that is not a plain web address stays in the help text only.
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_WEB_URI = re.compile(rf"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/{_PCHAR}*)*"
                      rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?\Z")

# GitHub maps security-severity > 9.0 to critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low. A finding rated by
# CVSS gives its base score; one rated by word (Debian urgency, GHSA) gets a score inside its level's band
# (Trivy's figures where it has the level).
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.NEGLIGIBLE: "0.5",
    Severity.UNDEFINED: "0.0",
}
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.NEGLIGIBLE: "note",
    Severity.UNDEFINED: "note",
}


def to_sarif(report: ScanReport) -> dict[str, Any]:
    rule_ids: dict[str, int] = {}
    rules: list[dict[str, Any]] = []
    # A vulnerability rated differently per package (distro vs GHSA) gets the rule rated by its worst finding.
    worst: dict[str, Finding] = {}
    for finding in report.findings:
        if finding.name not in worst or finding.severity < worst[finding.name].severity:
            worst[finding.name] = finding
    for name, finding in worst.items():
        rule_ids[name] = len(rules)
        rules.append(_rule(finding))
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "crscan", "version": crscan.__version__, "rules": rules}},
        "originalUriBaseIds": {ROOT_BASE_ID: {"uri": "file:///"}},
        "results": [_result(f, rule_ids[f.name], report.image) for f in report.findings],
        "columnKind": "utf16CodeUnits",
        "properties": {
            "image": report.image,
            "digest": report.digest,
            "feedBuildId": report.feed_build_id,
            "distro": f"{report.distro.id} {report.distro.version_id}".strip() if report.distro else "",
        },
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def security_severity(f: Finding) -> str:
    """The CVSS base score the rating came from; else a figure inside the level's band."""
    if f.cvss_score is not None:
        return f"{f.cvss_score:.1f}"
    return SECURITY_SEVERITY[f.severity]


def _rule(f: Finding) -> dict[str, Any]:
    kind = "OsPackageVulnerability" if f.origin == "os" else "LanguageSpecificPackageVulnerability"
    summary = f"{f.name}: {f.package} ({f.source}) {f.severity.name.lower()} severity vulnerability"
    detail = f.detail
    described = detail.description if detail and detail.description else (
        summary + (f", advisory {f.advisory_id}" if f.advisory_id != f.name else ""))
    facts = [("Vulnerability", f.name), ("Severity", f"{f.severity.name} ({f.severity_source})"),
             ("CVSS", f"{f.cvss_score:.1f} {f.cvss_vector}" if f.cvss_score is not None else ""),
             ("Advisory", f.advisory_id), ("Aliases", ", ".join(f.aliases)),
             ("CWE", ", ".join(detail.cwes) if detail else ""), ("Published", detail.published if detail else ""),
             ("Link", f.link)]
    facts = [(label, value) for label, value in facts if value]
    rule: dict[str, Any] = {
        "id": f.name,
        "name": kind,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": described},
        "defaultConfiguration": {"level": LEVELS[f.severity]},
        "help": {
            "text": "\n".join(f"{label}: {value}" for label, value in facts) + (
                f"\n\n{detail.description}" if detail and detail.description else ""),
            "markdown": (
                "| " + " | ".join(label for label, _ in facts) + " |\n|" + " --- |" * len(facts) + "\n| "
                + " | ".join(value.replace("|", "\\|") for _, value in facts) + " |"
            ),
        },
        "properties": {
            "precision": "very-high",
            "security-severity": security_severity(f),
            "tags": list(dict.fromkeys(
                ("vulnerability", "security", f.severity.name, *(detail.cwes if detail else ())))),
        },
    }
    if _WEB_URI.match(f.link):
        rule["helpUri"] = f.link
    return rule


def _result(f: Finding, rule_index: int, image: str) -> dict[str, Any]:
    status = f.status or finding_status(f.fixed_by)
    fix = f"fixed in {f.fixed_by}" if f.fixed_by else f"no fixed version is known, status {status}"
    text = (f"Package: {f.package}\nInstalled Version: {f.version}\nVulnerability: {f.name}\n"
            f"Severity: {f.severity.name}\nFixed Version: {f.fixed_by or 'none'}\nStatus: {status}\nLink: {f.link}")
    location = {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(f.path, image), "uriBaseId": ROOT_BASE_ID},
            # Code scanning anchors every alert to a line; the package record's own line is not known.
            "region": {"startLine": 1},
        },
        "message": {"text": f"{image}: {f.package}@{f.version} ({fix})"},
    }
    properties: dict[str, Any] = {"package": f.package, "installedVersion": f.version, "fixedVersion": f.fixed_by,
                                  "status": status,
                                  "severitySource": f.severity_source, "advisoryId": f.advisory_id}
    if f.aliases:
        properties["aliases"] = list(f.aliases)
    if f.cvss_vector:
        properties["cvssVector"] = f.cvss_vector
        properties["cvssScore"] = f.cvss_score
    if f.detail is not None:
        properties["cwes"] = list(f.detail.cwes)
        properties["published"] = f.detail.published
        properties["references"] = list(f.detail.references)
    if f.kev is not None:
        properties["kev"] = True
        properties["kevDateAdded"] = f.kev.date_added
        properties["kevDueDate"] = f.kev.due_date
    if f.epss is not None:
        properties["epss"] = f.epss.score
        properties["epssPercentile"] = f.epss.percentile
        properties["epssDate"] = f.epss.score_date
    if f.layer is not None:
        properties["layerDigest"] = f.layer.digest
        properties["layerDiffId"] = f.layer.diff_id
    return {
        "ruleId": f.name,
        "ruleIndex": rule_index,
        "level": LEVELS[f.severity],
        "message": {"text": text},
        "locations": [location],
        # Findings sharing a rule and a file (libssl3 and openssl, one CVE, one status file) must stay distinct.
        "partialFingerprints": {"crscanFinding/v1": _fingerprint(f)},
        "properties": properties,
    }


def artifact_uri(path: str, image: str) -> str:
    """The package's file relative to the image root, URI-escaped; the image itself when the path is unknown."""
    relative = path.lstrip("/") or image
    return quote(_file_name_bytes(relative), safe="/-._~")


def _file_name_bytes(name: str) -> bytes:
    # Undecodable tar member names arrive surrogate-escaped: give back their original bytes.
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogatepass")


def _fingerprint(f: Finding) -> str:
    key = "\0".join((f.name, f.source, f.package, f.version, f.path))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class SarifFormat(ReportFormat):
    name: ClassVar[str] = "sarif"

    def write(self, report: ScanReport, stream: TextIO) -> None:
        # ASCII-only JSON survives any stream encoding (LANG=C, a Windows console).
        json.dump(to_sarif(report), stream, indent=2)
        stream.write("\n")
