"""`--format spdx-json`: an SPDX 2.3 JSON document of the image's packages.

The image is the described package (purpose CONTAINER), the distro an OPERATING-SYSTEM package, and every
package a PACKAGE-MANAGER purl reference with its declared licenses (an SPDX expression, or a LicenseRef
defined in `hasExtractedLicensingInfos` for free text). SPDX 2.3 has no vulnerability section; a scan's
findings go on the affected package as SECURITY `advisory` references (their link), as Trivy and Syft do.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TextIO
from urllib.parse import quote

import crscan
from crscan.model import Finding, Package, ScanReport

from .cyclonedx import canonical_purl
from .interface import ReportFormat
from .licenses import is_spdx_expression

Json = dict[str, Any]
NOASSERTION = "NOASSERTION"
_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9.\-]+")
_URL = re.compile(r"^https?://[^\s]+$")
IMAGE_ID = "SPDXRef-Image"


def to_document(report: ScanReport) -> Json:
    """The SPDX document as JSON-ready dicts; `documentNamespace` and `created` differ on every call."""
    refs = _LicenseRefs()
    image: Json = {
        "SPDXID": IMAGE_ID, "name": report.image, "downloadLocation": NOASSERTION, "filesAnalyzed": False,
        "primaryPackagePurpose": "CONTAINER", "licenseConcluded": NOASSERTION, "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
    }
    if report.digest:
        image["versionInfo"] = report.digest
    if report.feed_build_id:
        image["comment"] = f"crscan feed build {report.feed_build_id}"
    packages = [image]
    if report.distro is not None:
        os_package = _package("SPDXRef-OperatingSystem", report.distro.id, report.distro.version_id, "", ())
        os_package["primaryPackagePurpose"] = "OPERATING-SYSTEM"
        if report.distro.pretty_name:
            os_package["description"] = report.distro.pretty_name
        packages.append(os_package)

    by_key: dict[tuple[str, str, str, str], Json] = {}
    anywhere: dict[tuple[str, str, str], Json] = {}
    for number, p in enumerate(report.packages, 1):
        package = _package(f"SPDXRef-Package-{number}", p.name, p.version, p.purl, p.licenses, refs)
        package["sourceInfo"] = _source_info(p)
        packages.append(package)
        by_key.setdefault((p.ecosystem.value, p.name, p.version, p.path), package)
        anywhere.setdefault((p.ecosystem.value, p.name, p.version), package)

    unlinked = 0
    for finding in report.findings:
        key = (finding.source, finding.package, finding.version, finding.path)
        found = by_key.get(key) if finding.path else anywhere.get(key[:3])
        if found is None:  # a finding must name its package; add one rather than drop the finding
            package = _package(f"SPDXRef-Package-{len(packages)}", finding.package, finding.version, "", ())
            package["sourceInfo"] = f"named by a finding for {finding.name}"
            packages.append(package)
            by_key[key] = anywhere[key[:3]] = package
        else:
            package = found
        if not _URL.match(finding.link):
            unlinked += 1
            continue
        package.setdefault("externalRefs", []).append({
            "referenceCategory": "SECURITY", "referenceType": "advisory", "referenceLocator": finding.link,
            "comment": _finding_comment(finding),
        })

    # A name from the command line may hold lone surrogates (undecodable bytes); quote() must get bytes then.
    namespace_name = quote(report.image.encode(errors="surrogatepass"), safe="")
    document: Json = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": report.image,
        "documentNamespace": f"https://crscan.invalid/spdx/{namespace_name}-{uuid.uuid4()}",
        "creationInfo": {
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": [f"Tool: crscan-{crscan.__version__}"],
        },
        "packages": packages,
        "relationships": [
            {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": IMAGE_ID},
            *({"spdxElementId": IMAGE_ID, "relationshipType": "CONTAINS", "relatedSpdxElement": p["SPDXID"]}
              for p in packages[1:]),
        ],
    }
    if unlinked:  # never a silent gap: say how many findings had no advisory link to reference
        document["comment"] = f"{unlinked} finding(s) have no advisory URL and are not listed as references"
    if refs.defined:
        document["hasExtractedLicensingInfos"] = list(refs.defined.values())
    return document


class _LicenseRefs:
    """Free-text licenses as LicenseRef ids, each defined once in the document."""

    def __init__(self) -> None:
        self.defined: dict[str, Json] = {}

    def ref(self, name: str) -> str:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        license_id = f"LicenseRef-{_NOT_ID_CHARS.sub('-', name).strip('-')[:40]}-{digest}"
        self.defined.setdefault(license_id, {
            "licenseId": license_id, "name": name,
            "extractedText": f"The package metadata declares the license as: {name}",
        })
        return license_id


def _package(spdx_id: str, name: str, version: str, purl: str, licenses: tuple[str, ...],
             refs: _LicenseRefs | None = None) -> Json:
    package: Json = {"SPDXID": spdx_id, "name": name}
    if version:
        package["versionInfo"] = version
    declared = NOASSERTION
    if licenses and refs is not None:
        terms = [text if is_spdx_expression(text) else refs.ref(text) for text in licenses]
        declared = terms[0] if len(terms) == 1 else " AND ".join(f"({term})" for term in terms)
    package.update({"downloadLocation": NOASSERTION, "filesAnalyzed": False, "licenseConcluded": NOASSERTION,
                    "licenseDeclared": declared, "copyrightText": NOASSERTION})
    purl = canonical_purl(purl)
    if purl:
        package["externalRefs"] = [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                    "referenceLocator": purl}]
    return package


def _source_info(p: Package) -> str:
    where = f"found by crscan ({p.ecosystem.value}) at {p.path or 'an unknown path'}"
    return f"{where} in layer {p.layer.digest}" if p.layer else where


def _finding_comment(f: Finding) -> str:
    fix = f"fixed in {f.fixed_by}" if f.fixed_by else "no fix known"
    return f"{f.name} ({f.advisory_id or f.name}): severity {f.severity.name} from {f.severity_source or 'none'}; {fix}"


def to_json(report: ScanReport) -> str:
    return json.dumps(to_document(report), indent=2)


class SpdxJsonFormat(ReportFormat):
    name: ClassVar[str] = "spdx-json"

    def write(self, report: ScanReport, stream: TextIO) -> None:
        stream.write(to_json(report))
        stream.write("\n")
