from __future__ import annotations

import dataclasses
import io
import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from hypothesis import given, settings

from crscan.model import Ecosystem, Package, ScanReport, Severity
from crscan.report import render
from tests.report import cyclonedx_oracle, facts
from tests.report.strategies import reports

VALIDATOR = JsonStrictValidator(SchemaVersion.V1_6)


def rendered(report: ScanReport) -> tuple[str, dict]:
    stream = io.StringIO()
    render(report, "cyclonedx", stream, color=False)
    return stream.getvalue(), json.loads(stream.getvalue())


def validation_error(text: str) -> str | None:
    error = VALIDATOR.validate_str(text)
    return None if error is None else str(error.data.message)


def properties(item: dict) -> dict[str, str]:
    return {p["name"]: p["value"] for p in item.get("properties", [])}


def test_sbom_validates_with_the_library_validator():
    text, bom = rendered(facts.bookworm_report())
    assert validation_error(text) is None
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"


def test_image_is_the_described_component():
    _, bom = rendered(facts.bookworm_report())
    image = bom["metadata"]["component"]
    assert image["type"] == "container" and image["name"] == "registry.example.com/shop/web:1.4"
    assert image["version"] == facts.bookworm_report().digest
    assert properties(image) == {"crscan:feed_build_id": "20261127T0300Z-7f3a"}


def test_components_carry_purl_bom_ref_path_and_layer():
    _, bom = rendered(facts.bookworm_report())
    by_name = {c["name"]: c for c in bom["components"]}
    assert by_name["debian"]["type"] == "operating-system" and by_name["debian"]["version"] == "12"
    openssl = by_name["openssl"]
    assert openssl["purl"] == "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
    assert openssl["bom-ref"] == openssl["purl"]
    assert properties(openssl) == {
        "crscan:ecosystem": "dpkg", "crscan:path": "/var/lib/dpkg/status", "crscan:arch": "amd64",
        "crscan:source_name": "openssl", "crscan:source_version": "3.0.11-1~deb12u2",
        "crscan:layer:digest": facts.BASE.digest, "crscan:layer:diff_id": facts.BASE.diff_id,
    }
    assert by_name["django"]["purl"] == "pkg:pypi/django@3.2"
    assert len(bom["components"]) == 1 + len(facts.bookworm_report().packages)


def test_one_vulnerability_per_id_affecting_every_package_it_was_found_in():
    _, bom = rendered(facts.bookworm_report())
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert set(vulns) == {f.name for f in facts.FINDINGS}
    refs = {c["bom-ref"] for c in bom["components"]}
    for vuln in vulns.values():
        assert {a["ref"] for a in vuln["affects"]} <= refs
    shared = vulns["CVE-2023-5678"]
    assert sorted(a["ref"] for a in shared["affects"]) == sorted([facts.LIBSSL3.purl, facts.OPENSSL.purl])
    assert shared["affects"][0]["versions"] == [{"version": "3.0.11-1~deb12u2", "status": "affected"}]
    assert shared["ratings"] == [{"source": {"name": "debian"}, "severity": "medium"}]
    assert shared["recommendation"] == "Upgrade to libssl3 3.0.13-1~deb12u1, openssl 3.0.13-1~deb12u1"
    assert shared["source"] == {"name": "debian", "url": "https://security-tracker.debian.org/tracker/CVE-2023-5678"}


def test_vulnerability_keeps_advisory_id_rating_and_fix():
    _, bom = rendered(facts.bookworm_report())
    admindocs = next(v for v in bom["vulnerabilities"] if v["id"] == "CVE-2021-33203")
    assert admindocs["references"] == [{"id": "GHSA-68w8-qjq3-2gfm", "source": {"name": "osv"}},
                                       {"id": "PYSEC-2021-98", "source": {"name": "osv"}}]
    assert admindocs["ratings"] == [{"source": {"name": "ghsa"}, "severity": "medium"}]
    # The NVD detail: description, CWE number, dates (UTC), references as advisories.
    assert admindocs["description"] == facts.ADMINDOCS_DETAIL.description
    assert admindocs["cwes"] == [22]
    assert admindocs["published"].startswith("2021-06-08T18:15:08.48")
    assert admindocs["advisories"] == [{"url": "https://docs.djangoproject.com/en/3.2/releases/security/"}]
    assert admindocs["recommendation"] == "Upgrade to django 3.2.4"
    assert [a["ref"] for a in admindocs["affects"]] == ["pkg:pypi/django@3.2"]
    unfixed = next(v for v in bom["vulnerabilities"] if v["id"] == "CVE-2010-4756")
    assert "recommendation" not in unfixed and unfixed["ratings"][0]["severity"] == "info"


def test_only_cwe_numbers_the_schema_allows_are_kept():
    detail = dataclasses.replace(facts.ADMINDOCS_DETAIL, cwes=("CWE-0", "NVD-CWE-Other", "CWE-79", "CWE-22"))
    finding = dataclasses.replace(facts.bookworm_report().findings[0], detail=detail)
    text, bom = rendered(dataclasses.replace(facts.bookworm_report(), findings=(finding,)))
    assert validation_error(text) is None
    assert bom["vulnerabilities"][0]["cwes"] == [22, 79]


def test_a_cvss_rating_carries_its_score_vector_and_method():
    rated = dataclasses.replace(facts.LODASH_UNRATED, severity=Severity.MEDIUM, severity_source="nvd",
                                cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", cvss_score=5.9)
    v2 = dataclasses.replace(facts.LODASH_PROTO, severity_source="nvd", cvss_vector="AV:N/AC:L/Au:N/C:P/I:P/A:P",
                             cvss_score=7.5)
    report = dataclasses.replace(facts.bookworm_report(), findings=(rated, v2))
    text, bom = rendered(report)
    assert validation_error(text) is None
    ratings = {v["id"]: v["ratings"] for v in bom["vulnerabilities"]}
    # CycloneDX names the CVSS version in `method`; its library writes the vector without the "CVSS:3.1/" prefix.
    assert ratings[rated.name] == [{"source": {"name": "nvd"}, "score": 5.9, "severity": "medium", "method": "CVSSv31",
                                    "vector": "AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H"}]
    assert ratings[v2.name][0]["method"] == "CVSSv2" and ratings[v2.name][0]["score"] == 7.5


def test_same_purl_twice_gets_distinct_bom_refs():
    other_venv = dataclasses.replace(facts.DJANGO, path="/opt/venv/lib/python3.11/site-packages/"
                                                       "Django-3.2.dist-info/METADATA")
    report = dataclasses.replace(facts.bookworm_report(), packages=facts.bookworm_report().packages + (other_venv,))
    text, bom = rendered(report)
    assert validation_error(text) is None
    django_refs = [c["bom-ref"] for c in bom["components"] if c["name"] == "django"]
    assert len(django_refs) == 2 and len(set(django_refs)) == 2
    # The finding names the first Django's path, so it affects that component only.
    admindocs = next(v for v in bom["vulnerabilities"] if v["id"] == "CVE-2021-33203")
    assert [a["ref"] for a in admindocs["affects"]] == ["pkg:pypi/django@3.2"]


def test_finding_without_a_path_affects_the_package_found_anywhere():
    pathless = dataclasses.replace(facts.DJANGO_ADMINDOCS, path="")
    text, bom = rendered(facts.bookworm_report((pathless,)))
    assert validation_error(text) is None
    assert [a["ref"] for a in bom["vulnerabilities"][0]["affects"]] == ["pkg:pypi/django@3.2"]
    assert len(bom["components"]) == 1 + len(facts.bookworm_report().packages)


def test_finding_for_an_unlisted_package_gets_a_component():
    report = dataclasses.replace(facts.bookworm_report((facts.LODASH_PROTO,)), packages=())
    text, bom = rendered(report)
    assert validation_error(text) is None
    assert [a["ref"] for a in bom["vulnerabilities"][0]["affects"]] == ["npm:lodash@4.17.4"]
    assert [c["name"] for c in bom["components"] if c["type"] == "library"] == ["lodash"]


@pytest.mark.parametrize("purl", ["pkg:", "not a purl", "pkg:pypi/"])
def test_malformed_purl_is_left_out_and_the_sbom_stays_valid(purl):
    broken = Package(Ecosystem.PYPI, "django", "3.2", purl=purl, path=facts.DJANGO_METADATA)
    report = dataclasses.replace(facts.bookworm_report((facts.DJANGO_ADMINDOCS,)), packages=(broken,))
    text, bom = rendered(report)
    assert validation_error(text) is None
    django = next(c for c in bom["components"] if c["name"] == "django")
    assert "purl" not in django and django["bom-ref"] == "pip:django@3.2"


def test_validator_catches_a_broken_sbom():
    _text, bom = rendered(facts.bookworm_report())
    bom["vulnerabilities"][0]["ratings"][0]["severity"] = "moderate"
    assert validation_error(json.dumps(bom)) is not None


@settings(max_examples=50, deadline=None)
@given(report=reports)
def test_any_report_is_a_valid_sbom(report):
    text, bom = rendered(report)
    assert validation_error(text) is None
    text.encode("utf-8")
    assert len(bom.get("vulnerabilities", [])) == len({f.name for f in report.findings})
    refs = [c["bom-ref"] for c in bom.get("components", [])]
    assert len(refs) == len(set(refs)) >= len(report.packages) + (report.distro is not None)
    assert {a["ref"] for v in bom.get("vulnerabilities", []) for a in v["affects"]} <= set(refs)


def comparable(bom: dict) -> dict:
    """The document without what differs on every rendering: the serial number and the timestamp."""
    bom = json.loads(json.dumps(bom))
    del bom["serialNumber"], bom["metadata"]["timestamp"]
    return bom


def library_rendering(report: ScanReport) -> dict:
    return json.loads(cyclonedx_oracle.to_json(report))


def test_same_document_as_the_library_rendering_for_the_real_report():
    _, bom = rendered(facts.bookworm_report())
    assert comparable(bom) == comparable(library_rendering(facts.bookworm_report()))
    assert bom["serialNumber"].startswith("urn:uuid:") and bom["metadata"]["timestamp"].endswith("+00:00")


@settings(max_examples=200, deadline=None)
@given(report=reports)
def test_same_document_as_the_library_rendering_for_any_report(report):
    _, bom = rendered(report)
    assert comparable(bom) == comparable(library_rendering(report))


def test_declared_licenses_as_one_expression_or_as_names():
    expression = dataclasses.replace(facts.DJANGO, licenses=("BSD-3-Clause OR MIT",))
    free_text = dataclasses.replace(facts.LODASH, licenses=("BSD License", "MIT"))
    report = dataclasses.replace(facts.bookworm_report(), packages=(expression, free_text))
    text, bom = rendered(report)
    assert validation_error(text) is None
    by_name = {c["name"]: c for c in bom["components"]}
    assert by_name["django"]["licenses"] == [{"expression": "BSD-3-Clause OR MIT"}]
    assert by_name["lodash"]["licenses"] == [{"license": {"name": "BSD License"}}, {"license": {"name": "MIT"}}]


def test_a_vendors_reason_for_no_fix_is_the_vulnerabilitys_analysis():
    base = facts.bookworm_report()
    unfixed = [f for f in base.findings if not f.fixed_by]
    assert unfixed
    stated = tuple(dataclasses.replace(f, status="will_not_fix") if f is unfixed[0] else f for f in base.findings)
    text, document = rendered(dataclasses.replace(base, findings=stated))
    assert validation_error(text) is None
    analysed = {v["id"]: v["analysis"] for v in document["vulnerabilities"] if "analysis" in v}
    assert analysed == {unfixed[0].name: {"state": "exploitable", "response": ["will_not_fix"],
                                          "detail": f"Vendor status: {unfixed[0].package} will_not_fix"}}
    triage = tuple(dataclasses.replace(f, status="under_investigation") if f is unfixed[0] else f
                   for f in base.findings)
    text, document = rendered(dataclasses.replace(base, findings=triage))
    assert validation_error(text) is None
    assert next(v for v in document["vulnerabilities"] if v["id"] == unfixed[0].name)["analysis"]["state"] == \
        "in_triage"
