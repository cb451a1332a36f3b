"""Severity precedence and merging the records of one vulnerability (docs/severity.md explains both).

A finding's severity is the first rating found in this order:
1. the distribution's own (Debian urgency, …) for OS packages: distro-feed matchers run first;
2. the advisory's own (GHSA `database_specific.severity`, else its CVSS v3, else v4) from OSV records;
3. NVD: its own CVSS v3.1 > v3.0 > v4.0 > v2, else the CNA's by the same order (`preferred_nvd_score`);
4. UNDEFINED.
`severity_source` names the winner; `cvss_vector`/`cvss_score` are the rating's CVSS when it had one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from crscan.match.findings import parsed
from crscan.model import AdvisoryDetail, EpssScore, Finding, KevFlag, Package, Severity
from crscan.vulndb.enrichment import CveFacts
from crscan.vulndb.records import NvdRecord
from crscan.vulndb.severity import preferred_nvd_score

NVD_LINK = "https://nvd.nist.gov/vuln/detail/{}"


def is_cve(name: str) -> bool:
    return name.startswith("CVE-")


_FINDING_FIELDS = tuple(field.name for field in dataclasses.fields(Finding))
_FINDING_FIELD_SET = frozenset(_FINDING_FIELDS)


def replaced(finding: Finding, changes: Mapping[str, object]) -> Finding:
    """`dataclasses.replace(finding, **changes)` at half its cost (it runs for nearly every finding of a scan)."""
    assert changes.keys() <= _FINDING_FIELD_SET, f"not fields of Finding: {changes.keys() - _FINDING_FIELD_SET}"
    values = [changes[name] if name in changes else getattr(finding, name) for name in _FINDING_FIELDS]
    return Finding(*values)  # type: ignore[arg-type]  # each value is the field's own or a change of its type


def absorb(package: Package, kept: Finding, other: Finding) -> Finding:
    """`kept` with a later record of the same vulnerability folded in (records arrive in matcher order, so
    distro feeds first): the first rating in precedence order stays; the CVE names the finding (and its record
    gives the link); the lowest fix that fixes the installed version is kept, and without one the vendor's
    stated status."""
    changes: dict[str, object] = {}
    if kept.severity is Severity.UNDEFINED and other.severity is not Severity.UNDEFINED:
        changes.update(severity=other.severity, severity_source=other.severity_source,
                       cvss_vector=other.cvss_vector, cvss_score=other.cvss_score)
    if not is_cve(kept.name) and is_cve(other.name):
        changes.update(name=other.name, advisory_id=other.advisory_id, link=other.link, feed=other.feed)
    fix = lowest_fix(package, kept.fixed_by, other.fixed_by)
    if fix != kept.fixed_by:
        changes["fixed_by"] = fix
    status = "fixed" if fix else stated_status(kept.status, other.status)
    if status != kept.status:
        changes["status"] = status
    return replaced(kept, changes) if changes else kept


def stated_status(first: str, second: str) -> str:
    """Of two records without a fix, the vendor's own word ("fix_deferred", "will_not_fix") over the plain
    "affected" any record without a fix says."""
    return first if first not in ("", "affected") else (second or first)


def merged(finding: Finding, ids: Iterable[str], facts: Mapping[str, CveFacts] | None = None) -> Finding:
    """The finding of a vulnerability's folded records, known by `ids` (its own name among them), with the
    per-CVE `facts` (`cve_facts`) added: NVD's detail, and its rating where no earlier source rated it (a
    rejected CVE is flagged in the detail and lends no rating); the KEV flag and EPSS score of its CVE or,
    failing that, of any CVE alias. One copy of the finding at most, none when nothing changes."""
    changes: dict[str, object] = {}
    aliases = tuple(sorted(i for i in ids if i != finding.name))
    if aliases != finding.aliases:  # the OSV matcher names a lone record's already
        changes["aliases"] = aliases
    link = merged_link(finding.feed, finding.name, finding.advisory_id)
    if link and link != finding.link:
        changes["link"] = link
    if facts:
        known = [facts[cve] for cve in (finding.name, *aliases) if is_cve(cve) and cve in facts]
        if known:
            own = facts.get(finding.name if is_cve(finding.name) else next(a for a in aliases if is_cve(a)))
            if own is not None and own.nvd is not None:
                changes.update(nvd_changes(finding, own.nvd))
            changes.update(risk_changes(known))
    return replaced(finding, changes) if changes else finding


def merged_link(feed: str, name: str, advisory_id: str) -> str:
    """The link of a finding named by a CVE no merged record has as its own id (PYSEC and GHSA records alias
    it): the CVE's record; "" for any other (its record's link stays). A distro feed's advisory page (ALAS,
    DSA) is the distribution's own record of the CVE and stays."""
    return NVD_LINK.format(name) if feed == "osv" and is_cve(name) and advisory_id != name else ""


def lowest_fix(package: Package, first: str, second: str) -> str:
    """The lower of two fixed versions (each already above the installed one); "" only when neither is known.
    A version the scheme cannot order loses to one it can."""
    if not first or not second or first == second:
        return first or second
    scheme = package.ecosystem.facts.scheme
    a, b = parsed(scheme, first), parsed(scheme, second)
    if a is None or b is None:
        return second if a is None and b is not None else first
    return second if b < a else first


def cve_of(finding: Finding) -> str:
    """The CVE a finding is about: its name, else a CVE among its aliases; "" when none."""
    if is_cve(finding.name):
        return finding.name
    return next((alias for alias in finding.aliases if is_cve(alias)), "")


def risk_changes(known: list[CveFacts]) -> dict[str, object]:
    """The first KEV entry and the highest EPSS among a finding's CVEs' facts (own CVE first)."""
    kev = next((f.kev for f in known if f.kev is not None), None)
    scores = [f.epss for f in known if f.epss is not None]
    epss = max(scores, key=lambda e: e.score) if scores else None
    if kev is None and epss is None:
        return {}
    return {"kev": KevFlag(kev.date_added, kev.due_date) if kev else None,
            "epss": EpssScore(epss.score, epss.percentile, epss.score_date) if epss else None}


def nvd_changes(finding: Finding, record: NvdRecord) -> dict[str, object]:
    """NVD's detail of the finding's CVE, and NVD's (or the CNA's) rating when no earlier source rated it."""
    score = preferred_nvd_score(record)
    detail = AdvisoryDetail(
        description=record.description, cwes=record.cwes, published=record.published, modified=record.modified,
        references=record.references, cve_status=record.status,
        nvd_cvss_vector=score.vector if score else "", nvd_cvss_score=score.score if score else None,
    )
    if finding.severity is not Severity.UNDEFINED or score is None:
        return {"detail": detail}
    return {"severity": score.severity, "severity_source": "nvd" if score.primary else "cna",
            "cvss_vector": score.vector, "cvss_score": score.score, "detail": detail}
