from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.model import Severity
from crscan.report import (
    FindingFilter,
    IgnoreList,
    IgnoreRule,
    ReportError,
    exit_code,
    parse_ignore_file,
    parse_severity,
    parse_severity_list,
)
from tests.report import facts

TODAY = dt.date(2026, 11, 28)


def names(report) -> set[tuple[str, str]]:
    return {(f.package, f.name) for f in report.findings}


# --severity


def test_severity_list_is_case_and_space_insensitive():
    assert parse_severity_list("critical, HIGH ,Medium") == {Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM}


@pytest.mark.parametrize("text, named", [("HIGH,SEVERE", "'SEVERE'"), ("MODERATE", "'MODERATE'")])
def test_unknown_severity_is_named(text, named):
    with pytest.raises(ReportError, match=named) as info:
        parse_severity_list(text)
    assert "--severity" in str(info.value) and "NEGLIGIBLE" in str(info.value)


@pytest.mark.parametrize("text", ["", " , ", "HIGH,,LOW"])
def test_empty_severity_items_are_rejected(text):
    with pytest.raises(ReportError, match="--severity"):
        parse_severity_list(text)


def test_severity_filter_keeps_only_listed_levels():
    kept = FindingFilter(today=TODAY, severities=parse_severity_list("CRITICAL,HIGH")).apply(facts.bookworm_report())
    assert names(kept) == {("django", "CVE-2021-35042"), ("lodash", "CVE-2018-16487")}


# --ignore-unfixed


def test_ignore_unfixed_drops_only_findings_without_a_fix():
    kept = FindingFilter(today=TODAY, ignore_unfixed=True).apply(facts.bookworm_report())
    assert ("libc6", "CVE-2010-4756") not in names(kept)
    assert len(kept.findings) == len(facts.FINDINGS) - 1


def test_no_filter_keeps_everything_and_the_rest_of_the_report():
    report = facts.bookworm_report()
    assert FindingFilter(today=TODAY).apply(report) == report


# --ignore-file, line form

LINES = """\
# accepted: admindocs is not enabled
CVE-2021-33203
GHSA-4xc9-xhrj-v574 exp:2027-01-01   # lodash is only used at build time
   cve-2024-0727\t# ids ignore case

CVE-2023-5678 exp:2026-11-28
"""


def test_line_ignore_file_parses_ids_comments_and_expiry():
    ignore = parse_ignore_file(io.StringIO(LINES), ".crscanignore")
    assert ignore.rules == (
        IgnoreRule("CVE-2021-33203"),
        IgnoreRule("GHSA-4xc9-xhrj-v574", expires=dt.date(2027, 1, 1)),
        IgnoreRule("cve-2024-0727"),
        IgnoreRule("CVE-2023-5678", expires=dt.date(2026, 11, 28)),
    )


def test_ignore_file_matches_name_or_advisory_id_and_drops_expired_entries():
    ignore = parse_ignore_file(io.StringIO(LINES), ".trivyignore")
    kept = FindingFilter(today=TODAY, ignore=ignore).apply(facts.bookworm_report())
    assert ("django", "CVE-2021-33203") not in names(kept)  # by CVE (the finding's name)
    assert ("lodash", "CVE-2018-16487") not in names(kept)  # by GHSA id (the finding's advisory_id)
    assert ("openssl", "CVE-2024-0727") not in names(kept)  # case-insensitive
    # Expires today: no longer ignored, and the report says so.
    assert {("openssl", "CVE-2023-5678"), ("libssl3", "CVE-2023-5678")} <= names(kept)
    assert kept.warnings[-1] == "ignore rule for CVE-2023-5678 expired on 2026-11-28; it no longer ignores"


@pytest.mark.parametrize("today, ignored", [
    (dt.date(2026, 12, 31), True),  # the day before the expiry date
    (dt.date(2027, 1, 1), False),  # on it
    (dt.date(2027, 6, 1), False),  # after it
])
def test_expiry_boundary(today, ignored):
    ignore = parse_ignore_file(io.StringIO("CVE-2018-16487 exp:2027-01-01\n"), ".trivyignore")
    assert ignore.ignores(facts.LODASH_PROTO, today) is ignored


@pytest.mark.parametrize("text, message", [
    ("CVE-2021-33203 exp:2027-13-01\n", r"ign:1: invalid expiry date '2027-13-01'"),
    ("# header\nCVE-2021-33203 until-2027\n", r"ign:2: unexpected 'until-2027' after CVE-2021-33203"),
    ("CVE-1 exp:2027-01-01 exp:2028-01-01\n", r"ign:1: CVE-1 has more than one exp: date"),
])
def test_bad_line_ignore_file_names_line_and_value(text, message):
    with pytest.raises(ReportError, match=message):
        parse_ignore_file(io.StringIO(text), "ign")


# --ignore-file, YAML form

YAML = """\
vulnerabilities:
  - id: CVE-2021-33203
    statement: admindocs is not enabled
  - id: GHSA-4xc9-xhrj-v574
    expired_at: 2027-01-01
  - id: CVE-2023-5678
    expired_at: "2026-11-01"
  - id: CVE-2023-5678
    paths: [usr/lib/ssl/libssl.so.3, /var/lib/dpkg/status]
misconfigurations:
  - id: AVD-DS-0002
"""


def test_yaml_ignore_file_parses_entries():
    ignore = parse_ignore_file(io.StringIO(YAML), "trivyignore.yaml")
    assert ignore.rules == (
        IgnoreRule("CVE-2021-33203", statement="admindocs is not enabled"),
        IgnoreRule("GHSA-4xc9-xhrj-v574", expires=dt.date(2027, 1, 1)),
        IgnoreRule("CVE-2023-5678", expires=dt.date(2026, 11, 1)),
        IgnoreRule("CVE-2023-5678", paths=frozenset({"usr/lib/ssl/libssl.so.3", "var/lib/dpkg/status"})),
    )


def test_yaml_ignore_file_honours_expiry_and_paths():
    ignore = parse_ignore_file(io.StringIO(YAML), "ignore.yml")
    kept = FindingFilter(today=TODAY, ignore=ignore).apply(facts.bookworm_report())
    assert ("django", "CVE-2021-33203") not in names(kept)
    assert ("lodash", "CVE-2018-16487") not in names(kept)
    # The expired entry no longer ignores, but the path-scoped one does: status file is where openssl was found.
    assert not {("openssl", "CVE-2023-5678"), ("libssl3", "CVE-2023-5678")} & names(kept)


def test_yaml_path_scope_does_not_ignore_elsewhere():
    ignore = IgnoreList((IgnoreRule("CVE-2021-33203", paths=frozenset({"opt/venv/lib/Django.dist-info/METADATA"})),))
    assert not ignore.ignores(facts.DJANGO_ADMINDOCS, TODAY)


def test_empty_yaml_ignores_nothing():
    assert parse_ignore_file(io.StringIO(""), "x.yaml") == IgnoreList()


@pytest.mark.parametrize("text, message", [
    ("vulnerabilities: [\n", r"x.yaml: not valid YAML"),
    ("- CVE-2021-33203\n", r"x.yaml: expected a mapping with a 'vulnerabilities' list, got list"),
    ("vulnerabilites: []\n", r"x.yaml: unknown section 'vulnerabilites'"),
    ("vulnerabilities: CVE-1\n", r"'vulnerabilities' must be a list, got str"),
    ("vulnerabilities: [CVE-1]\n", r"vulnerabilities\[0\]: expected a mapping with an 'id', got str"),
    ("vulnerabilities: [{statement: x}]\n", r"vulnerabilities\[0\]: 'id' must be a non-empty string"),
    ("vulnerabilities: [{id: 7}]\n", r"'id' must be a non-empty string"),
    ("vulnerabilities: [{id: CVE-1, expires: 2027-01-01}]\n", r"vulnerabilities\[0\]: unknown key 'expires'"),
    ("vulnerabilities: [{id: CVE-1, expired_at: soon}]\n", r"invalid expiry date 'soon'"),
    ("vulnerabilities: [{id: CVE-1, expired_at: 20270101}]\n", r"'expired_at' must be a date like 2027-01-01"),
    ("vulnerabilities: [{id: CVE-1, paths: usr/bin}]\n", r"'paths' must be a list of non-empty strings"),
    ("vulnerabilities: [{id: CVE-1, statement: [a]}]\n", r"'statement' must be a string"),
    ("a: &a [*a]\n", r"x.yaml: unknown section 'a'"),  # a self-referencing alias
    ("[" * 600 + "]" * 600, r"x.yaml: (YAML nested too deeply|expected a mapping)"),  # depth vs. stack left
])
def test_bad_yaml_ignore_file_is_named(text, message):
    with pytest.raises(ReportError, match=message):
        parse_ignore_file(io.StringIO(text), "x.yaml")


@pytest.mark.parametrize("name", ["ignores", "ignores.yaml"])
def test_ignore_file_that_is_not_utf8_is_named(tmp_path, name):
    (tmp_path / name).write_bytes("CVE-2021-33203 # caf\xe9\n".encode("latin-1"))
    with open(tmp_path / name, encoding="utf-8") as reader, pytest.raises(ReportError, match=f"{name}: not UTF-8"):
        parse_ignore_file(reader, name)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), yaml_form=st.booleans())
def test_any_ignore_file_parses_or_fails_with_report_error(text, yaml_form):
    try:
        ignore = parse_ignore_file(io.StringIO(text), "f.yaml" if yaml_form else "f")
    except ReportError as exc:
        assert str(exc).startswith("f")
    else:
        assert all(rule.id for rule in ignore.rules)


# exit policy

EXIT = 7
# The report's worst finding per level: CRITICAL (django), HIGH (lodash), MEDIUM (openssl), LOW, NEGLIGIBLE, UNDEFINED.


@pytest.mark.parametrize("fail_on", list(Severity))
def test_full_report_fails_on_every_level(fail_on):
    assert exit_code(facts.FINDINGS, fail_on=fail_on, code=EXIT) == EXIT


@pytest.mark.parametrize("fail_on, expected", [
    (Severity.CRITICAL, 0),
    (Severity.HIGH, 0),
    (Severity.MEDIUM, EXIT),
    (Severity.LOW, EXIT),
    (Severity.NEGLIGIBLE, EXIT),
    (Severity.UNDEFINED, EXIT),
])
def test_fail_on_counts_findings_at_or_above_the_level(fail_on, expected):
    worst_is_medium = (facts.OPENSSL_CVE, facts.OPENSSL_PKCS12, facts.GLIBC_UNFIXED)
    assert exit_code(worst_is_medium, fail_on=fail_on, code=EXIT) == expected


def test_fail_on_applies_to_the_filtered_findings():
    report = FindingFilter(today=TODAY, severities=parse_severity_list("LOW,NEGLIGIBLE")).apply(facts.bookworm_report())
    assert exit_code(report.findings, fail_on=parse_severity("high"), code=EXIT) == 0
    assert exit_code(report.findings, fail_on=parse_severity("low"), code=EXIT) == EXIT


def test_exit_code_without_fail_on_fails_on_any_finding():
    assert exit_code((facts.LODASH_UNRATED,), fail_on=None, code=EXIT) == EXIT
    assert exit_code((), fail_on=None, code=EXIT) == 0


def test_exit_code_zero_never_fails():
    assert exit_code(facts.FINDINGS, fail_on=Severity.UNDEFINED, code=0) == 0


@pytest.mark.parametrize("code", [-1, 256])
def test_exit_code_out_of_range_is_rejected(code):
    with pytest.raises(ReportError, match=f"--exit-code {code} is out of range"):
        exit_code(facts.FINDINGS, fail_on=None, code=code)


def test_unknown_fail_on_is_named():
    with pytest.raises(ReportError, match="unknown severity 'severe' in --fail-on"):
        parse_severity("severe")


@settings(max_examples=200, deadline=None)
@given(levels=st.lists(st.sampled_from(list(Severity)), max_size=8), fail_on=st.sampled_from(list(Severity)))
def test_exit_code_matches_worst_severity(levels, fail_on):
    findings = [dataclasses.replace(facts.DJANGO_ADMINDOCS, severity=s) for s in levels]
    worst = min(levels, default=None)
    assert exit_code(findings, fail_on=fail_on, code=3) == (3 if worst is not None and worst <= fail_on else 0)
