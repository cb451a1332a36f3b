from __future__ import annotations

import copy
import io
import json

import jsonschema
import pytest
from hypothesis import given, settings

from crscan.report import render
from crscan.report.json_format import load_schema, to_document
from tests.report import facts
from tests.report.strategies import reports

VALIDATOR = jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker())


def rendered(report) -> dict:
    stream = io.StringIO()
    render(report, "json", stream, color=False)
    return json.loads(stream.getvalue())


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_report_validates_and_carries_every_fact():
    document = rendered(facts.bookworm_report())
    VALIDATOR.validate(document)
    assert document["image"] == "registry.example.com/shop/web:1.4"
    assert document["distro"] == {"id": "debian", "version_id": "12", "codename": "bookworm",
                                  "pretty_name": "Debian GNU/Linux 12 (bookworm)"}
    assert document["feed_build_id"] == "20261127T0300Z-7f3a"
    assert document["layers"] == [{"digest": facts.BASE.digest, "diff_id": facts.BASE.diff_id},
                                  {"digest": facts.APP.digest, "diff_id": facts.APP.diff_id}]
    django = next(p for p in document["packages"] if p["name"] == "django")
    assert django == {"ecosystem": "pip", "name": "django", "version": "3.2", "purl": "pkg:pypi/django@3.2",
                      "arch": "", "source_name": "", "source_version": "", "path": facts.DJANGO_METADATA,
                      "layer": {"digest": facts.APP.digest, "diff_id": facts.APP.diff_id}}
    admindocs = next(f for f in document["findings"] if f["name"] == "CVE-2021-33203")
    assert admindocs == {
        "name": "CVE-2021-33203", "advisory_id": "GHSA-68w8-qjq3-2gfm",
        "link": "https://github.com/advisories/GHSA-68w8-qjq3-2gfm", "package": "django", "source": "pip",
        "version": "3.2", "fixed_by": "3.2.4", "status": "fixed", "origin": "lang", "type": "python",
        "severity": "MEDIUM", "severity_source": "ghsa", "feed": "osv", "path": facts.DJANGO_METADATA,
        "layer": {"digest": facts.APP.digest, "diff_id": facts.APP.diff_id},
        "aliases": ["GHSA-68w8-qjq3-2gfm", "PYSEC-2021-98"], "cvss_vector": "", "cvss_score": None,
        "detail": {
            "description": facts.ADMINDOCS_DETAIL.description, "cwes": ["CWE-22"],
            "published": "2021-06-08T18:15:08.480", "modified": "2026-06-17T03:54:20.903",
            "references": ["https://docs.djangoproject.com/en/3.2/releases/security/"], "cve_status": "Modified",
            "nvd_cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:N/A:N", "nvd_cvss_score": 4.9,
        },
        "kev": None, "epss": None,
    }
    unrated = next(f for f in document["findings"] if f["name"] == "CVE-2018-3721")
    assert (unrated["aliases"], unrated["cvss_score"], unrated["detail"]) == ([], None, None)
    assert {(f["fixed_by"] != "", f["status"]) for f in document["findings"]} == {(True, "fixed"), (False, "affected")}
    assert document["warnings"] == list(facts.bookworm_report().warnings)
    assert document["summary"] == {
        "packages": 5, "findings": 8, "fixable": 7,
        "by_severity": {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 3, "LOW": 1, "NEGLIGIBLE": 1, "UNDEFINED": 1},
    }


def test_order_of_findings_is_kept():
    assert [f["name"] for f in rendered(facts.bookworm_report())["findings"]] == [f.name for f in facts.FINDINGS]


@pytest.mark.parametrize("break_it", [
    lambda d: d.pop("feed_build_id"),
    lambda d: d["findings"][0].update(severity="MODERATE"),
    lambda d: d["findings"][0].update(origin="kernel"),
    lambda d: d["packages"][0].update(ecosystem="deb"),
    lambda d: d["packages"][0].update(purl="django@3.2"),
    lambda d: d["layers"][0].update(digest="not a digest"),
    lambda d: d["summary"]["by_severity"].pop("UNDEFINED"),
    lambda d: d.update(extra=1),
    lambda d: d["findings"][4].update(cvss_score=11.0),
    lambda d: d["findings"][4]["detail"].update(cwes=["22"]),
    lambda d: d["findings"][4]["detail"].pop("cve_status"),
])
def test_schema_rejects_documents_that_break_the_contract(break_it):
    document = copy.deepcopy(to_document(facts.bookworm_report()))
    break_it(document)
    assert not VALIDATOR.is_valid(document)


@settings(max_examples=50, deadline=None)  # each example renders and schema-validates a whole document
@given(report=reports)
def test_any_report_is_valid_json_matching_the_schema(report):
    document = rendered(report)
    VALIDATOR.validate(document)
    assert document["image"] == report.image
    assert [f["package"] for f in document["findings"]] == [f.package for f in report.findings]
    assert sum(document["summary"]["by_severity"].values()) == len(report.findings)
