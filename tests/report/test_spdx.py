"""`--format spdx-json`: SPDX 2.3 JSON, checked by the SPDX project's own validator (spdx-tools)."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from hypothesis import given, settings
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from crscan.model import ScanReport
from crscan.report import render
from crscan.report.licenses import is_spdx_expression
from tests.report import facts
from tests.report.strategies import reports


def rendered(report: ScanReport) -> dict:
    stream = io.StringIO()
    render(report, "spdx-json", stream, color=False)
    return json.loads(stream.getvalue())


def validation_errors(document: dict) -> list[str]:
    messages = validate_full_spdx_document(JsonLikeDictParser().parse(document), "SPDX-2.3")
    return [m.validation_message for m in messages]


def licensed_report() -> ScanReport:
    report = facts.bookworm_report()
    licenses = {"django": ("BSD-3-Clause",), "lodash": ("MIT",), "openssl": ("Apache-2.0 OR OpenSSL",),
                "libssl3": ("BSD License", "MIT")}
    return dataclasses.replace(report, packages=tuple(dataclasses.replace(p, licenses=licenses.get(p.name, ()))
                                                      for p in report.packages))


def by_name(document: dict) -> dict[str, dict]:
    return {p["name"]: p for p in document["packages"]}


def test_document_is_valid_spdx_2_3_describing_the_image():
    document = rendered(licensed_report())
    assert validation_errors(document) == []
    assert document["spdxVersion"] == "SPDX-2.3"
    image = by_name(document)["registry.example.com/shop/web:1.4"]
    assert image["primaryPackagePurpose"] == "CONTAINER" and image["versionInfo"] == facts.bookworm_report().digest
    assert {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
            "relatedSpdxElement": image["SPDXID"]} in document["relationships"]
    contained = {r["relatedSpdxElement"] for r in document["relationships"] if r["relationshipType"] == "CONTAINS"}
    assert contained == {p["SPDXID"] for p in document["packages"]} - {image["SPDXID"]}
    assert by_name(document)["debian"]["primaryPackagePurpose"] == "OPERATING-SYSTEM"


def test_packages_carry_purl_and_declared_licenses():
    document = rendered(licensed_report())
    packages = by_name(document)
    purls = {r["referenceLocator"] for r in packages["libc6"]["externalRefs"] if r["referenceType"] == "purl"}
    assert purls == {facts.LIBC6.purl}
    assert packages["django"]["licenseDeclared"] == "BSD-3-Clause"
    assert packages["openssl"]["licenseDeclared"] == "Apache-2.0 OR OpenSSL"
    assert packages["libc6"]["licenseDeclared"] == "NOASSERTION"  # dpkg copyright files are not read
    [free_text] = document["hasExtractedLicensingInfos"]
    assert free_text["name"] == "BSD License"
    assert packages["libssl3"]["licenseDeclared"] == f"({free_text['licenseId']}) AND (MIT)"


def test_findings_are_advisory_references_on_the_affected_package():
    packages = by_name(rendered(licensed_report()))
    advisories = {r["referenceLocator"]: r["comment"] for r in packages["django"]["externalRefs"]
                  if r["referenceCategory"] == "SECURITY"}
    assert advisories == {
        "https://github.com/advisories/GHSA-68w8-qjq3-2gfm":
            "CVE-2021-33203 (GHSA-68w8-qjq3-2gfm): severity MEDIUM from ghsa; fixed in 3.2.4",
        "https://github.com/advisories/GHSA-xpfp-f569-q3p2":
            "CVE-2021-35042 (GHSA-xpfp-f569-q3p2): severity CRITICAL from ghsa; fixed in 3.2.5",
    }


def test_a_finding_without_a_link_is_counted_not_dropped_silently():
    unlinked = dataclasses.replace(facts.DJANGO_ADMINDOCS, link="")
    document = rendered(facts.bookworm_report((unlinked, facts.LODASH_PROTO)))
    assert validation_errors(document) == []
    assert document["comment"] == "1 finding(s) have no advisory URL and are not listed as references"


def test_validator_catches_an_undefined_license_ref():
    document = rendered(licensed_report())
    by_name(document)["django"]["licenseDeclared"] = "LicenseRef-nowhere"
    assert validation_errors(document) != []


@settings(max_examples=50, deadline=None)
@given(report=reports)
def test_any_report_is_a_valid_spdx_document(report):
    document = rendered(report)
    assert validation_errors(document) == []
    assert len(document["packages"]) >= 1 + len(report.packages) + (report.distro is not None)


@pytest.mark.parametrize(("text", "expected"), [
    ("MIT", True), ("mit", True), ("GPL-2.0-or-later WITH Classpath-exception-2.0", True),
    ("(MIT OR Apache-2.0) AND BSD-3-Clause", True), ("GPL-2.0+", True),
    ("BSD License", False), ("LGPL v3", False), ("MIT OR", False), ("(MIT", False), ("NotALicense-1.0", False),
    ("MIT WITH MIT", False), ("", False),
])
def test_spdx_expression_recognition(text, expected):
    assert is_spdx_expression(text) is expected
