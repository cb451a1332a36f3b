"""Which findings a report shows (`--severity`, `--ignore-unfixed`, `--ignore-file`) and the exit code it earns.

Ignore files come in two forms, both read the way Trivy reads them:

Line form (`.crscanignore`, `.trivyignore`): one vulnerability id per line, `#` starts a comment (whole line or
after whitespace), and an optional `exp:YYYY-MM-DD` after the id::

    # accepted: not reachable in our build
    CVE-2021-33203
    GHSA-68w8-qjq3-2gfm exp:2027-01-01

YAML form (`*.yaml` / `*.yml`)::

    vulnerabilities:
      - id: CVE-2021-33203
        expired_at: 2027-01-01          # optional
        statement: not reachable       # optional, kept for the record
        paths: [usr/lib/python3/dist-packages/Django-3.2.dist-info/METADATA]   # optional: only there

An id matches a finding's `name` (the CVE) or its `advisory_id` (GHSA-…, DSA-…), ignoring case. An entry with an
expiry ignores until the end of the day before it: from that date on (UTC) it is expired and no longer ignores,
which is Trivy's rule too. Trivy's `misconfigurations`, `secrets` and `licenses` sections are accepted and unused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from crscan.model import Finding, ScanReport, Severity

from .interface import ReportError

_YAML_SUFFIXES = (".yaml", ".yml")
# Sections a Trivy ignore file may carry that have no meaning for a vulnerability scanner.
_TRIVY_ONLY_SECTIONS = frozenset({"misconfigurations", "secrets", "licenses"})
_ENTRY_KEYS = frozenset({"id", "expired_at", "statement", "paths"})


@dataclass(frozen=True)
class IgnoreRule:
    """One ignored vulnerability id, optionally until a date and only at some paths."""

    id: str
    expires: dt.date | None = None
    statement: str = ""
    paths: frozenset[str] = frozenset()  # relative to the image root, no leading "/"; empty = everywhere

    def is_active(self, today: dt.date) -> bool:
        return self.expires is None or today < self.expires

    def matches(self, finding: Finding) -> bool:
        wanted = self.id.casefold()
        if wanted not in (finding.name.casefold(), finding.advisory_id.casefold()):
            return False
        return not self.paths or finding.path.lstrip("/") in self.paths


@dataclass(frozen=True)
class IgnoreList:
    rules: tuple[IgnoreRule, ...] = ()

    def ignores(self, finding: Finding, today: dt.date) -> bool:
        return any(rule.is_active(today) and rule.matches(finding) for rule in self.rules)

    def expired(self, today: dt.date) -> tuple[IgnoreRule, ...]:
        """Rules past their date, worth a warning: what they ignored is reported again."""
        return tuple(rule for rule in self.rules if not rule.is_active(today))


def parse_ignore_file(reader: TextIO, name: str) -> IgnoreList:
    """Read an ignore file, choosing the form by its name: YAML for `.yaml`/`.yml`, else the line form."""
    try:
        if name.lower().endswith(_YAML_SUFFIXES):
            return parse_ignore_yaml(reader, name)
        return parse_ignore_lines(reader, name)
    except UnicodeDecodeError as exc:
        raise ReportError(f"{name}: not UTF-8 text ({exc.reason})") from None


def parse_ignore_lines(reader: TextIO, name: str = "ignore file") -> IgnoreList:
    rules = []
    for number, raw in enumerate(reader, start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        vuln_id, *extras = line.split()
        expires = None
        for extra in extras:
            if not extra.startswith("exp:"):
                raise ReportError(
                    f"{name}:{number}: unexpected {extra!r} after {vuln_id}; only exp:YYYY-MM-DD may follow")
            if expires is not None:
                raise ReportError(f"{name}:{number}: {vuln_id} has more than one exp: date")
            expires = _parse_date(extra[len("exp:"):], f"{name}:{number}")
        rules.append(IgnoreRule(id=vuln_id, expires=expires))
    return IgnoreList(tuple(rules))


def parse_ignore_yaml(reader: TextIO, name: str = "ignore file") -> IgnoreList:
    import yaml  # only YAML ignore files need it; `crscan --help` imports this module

    try:
        document = yaml.safe_load(reader)
    except yaml.YAMLError as exc:
        raise ReportError(f"{name}: not valid YAML: {_one_line(exc)}") from None
    except RecursionError:
        raise ReportError(f"{name}: YAML nested too deeply") from None
    if document is None:
        return IgnoreList()
    if not isinstance(document, dict):
        raise ReportError(f"{name}: expected a mapping with a 'vulnerabilities' list, got {type(document).__name__}")
    unknown = sorted(str(k) for k in document if k != "vulnerabilities" and k not in _TRIVY_ONLY_SECTIONS)
    if unknown:
        raise ReportError(f"{name}: unknown section {unknown[0]!r}; expected 'vulnerabilities'")
    entries = document.get("vulnerabilities") or []
    if not isinstance(entries, list):
        raise ReportError(f"{name}: 'vulnerabilities' must be a list, got {type(entries).__name__}")
    return IgnoreList(tuple(_yaml_rule(entry, f"{name}: vulnerabilities[{i}]") for i, entry in enumerate(entries)))


def _yaml_rule(entry: object, where: str) -> IgnoreRule:
    if not isinstance(entry, dict):
        raise ReportError(f"{where}: expected a mapping with an 'id', got {type(entry).__name__}")
    unknown = sorted(str(k) for k in entry if k not in _ENTRY_KEYS)
    if unknown:
        raise ReportError(f"{where}: unknown key {unknown[0]!r}; expected one of {', '.join(sorted(_ENTRY_KEYS))}")
    vuln_id = entry.get("id")
    if not isinstance(vuln_id, str) or not vuln_id.strip():
        raise ReportError(f"{where}: 'id' must be a non-empty string")
    statement = entry.get("statement") or ""
    if not isinstance(statement, str):
        raise ReportError(f"{where}: 'statement' must be a string")
    paths = entry.get("paths") or []
    if not isinstance(paths, list) or not all(isinstance(p, str) and p.strip() for p in paths):
        raise ReportError(f"{where}: 'paths' must be a list of non-empty strings")
    return IgnoreRule(
        id=vuln_id.strip(),
        expires=_yaml_date(entry.get("expired_at"), where),
        statement=statement,
        paths=frozenset(p.strip().lstrip("/") for p in paths),
    )


def _yaml_date(value: object, where: str) -> dt.date | None:
    # YAML turns an unquoted 2027-01-01 into a date, a full timestamp into a datetime; quoted, it stays a string.
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return _parse_date(value, where)
    raise ReportError(f"{where}: 'expired_at' must be a date like 2027-01-01, got {value!r}")


def _parse_date(text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"{where}: invalid expiry date {text!r}; expected YYYY-MM-DD") from None


def _strip_comment(line: str) -> str:
    if line.lstrip().startswith("#"):
        return ""
    cut = min((i for i in (line.find(" #"), line.find("\t#")) if i >= 0), default=-1)
    return line if cut < 0 else line[:cut]


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


@dataclass(frozen=True)
class FindingFilter:
    """The scan command's display filters; `today` is passed in so expiry never depends on the clock."""

    today: dt.date
    severities: frozenset[Severity] | None = None  # None: every severity
    ignore_unfixed: bool = False
    ignore: IgnoreList = IgnoreList()

    def keeps(self, finding: Finding) -> bool:
        if self.severities is not None and finding.severity not in self.severities:
            return False
        if self.ignore_unfixed and not finding.fixed_by:
            return False
        return not self.ignore.ignores(finding, self.today)

    def apply(self, report: ScanReport) -> ScanReport:
        """The report with only the kept findings, and a warning for each expired ignore rule."""
        expired = tuple(
            f"ignore rule for {rule.id} expired on {rule.expires}; it no longer ignores"
            for rule in self.ignore.expired(self.today)
        )
        return dataclasses.replace(
            report,
            findings=tuple(f for f in report.findings if self.keeps(f)),
            warnings=report.warnings + expired,
        )


def exit_code(findings: Iterable[Finding], *, fail_on: Severity | None, code: int) -> int:
    """`code` if any finding is at or above `fail_on` (any finding at all when None, as Trivy does), else 0."""
    if not 0 <= code <= 255:
        raise ReportError(f"--exit-code {code} is out of range; expected 0 to 255")
    # Severity numbers grow as severity falls: CRITICAL=1 … UNDEFINED=6.
    threshold = Severity.UNDEFINED if fail_on is None else fail_on
    return code if any(f.severity <= threshold for f in findings) else 0
