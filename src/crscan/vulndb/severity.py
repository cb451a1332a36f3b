"""Severity ratings as the feeds give them, mapped onto the API's six levels.

Computed once while the DB is built so matching only reads a stored level and its source.
"""

from __future__ import annotations

from typing import Any

from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError

from crscan.model import Severity
from crscan.vulndb.records import CvssScore, NvdRecord

# GHSA-style `database_specific.severity` words.
_ADVISORY_WORDS = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MODERATE": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
}

_RED_HAT_WORDS = {
    "low": Severity.LOW,
    "moderate": Severity.MEDIUM,
    "important": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
# Each distribution's own rating words -> the API's levels (docs/severity.md shows this table; a test keeps
# the two equal). Alpine and Wolfi rate nothing: their findings take the next source's rating.
VENDOR_WORDS: dict[str, dict[str, Severity]] = {
    "debian": {  # the security tracker's urgency
        "unimportant": Severity.NEGLIGIBLE,
        "low": Severity.LOW,
        "medium": Severity.MEDIUM,
        "high": Severity.HIGH,
    },
    "ubuntu": {  # the CVE tracker's priority
        "negligible": Severity.NEGLIGIBLE,
        "low": Severity.LOW,
        "medium": Severity.MEDIUM,
        "high": Severity.HIGH,
        "critical": Severity.CRITICAL,
    },
    "redhat": _RED_HAT_WORDS,  # errata severity (also CentOS, AlmaLinux, Rocky Linux)
    "suse": _RED_HAT_WORDS,  # SUSE rates with Red Hat's words
    # Red Hat's impact words, which Amazon (ALAS) and Oracle (ELSA) rate their advisories with; ALAS also "medium".
    "amazon": {**_RED_HAT_WORDS, "medium": Severity.MEDIUM},
    "oracle": {**_RED_HAT_WORDS, "medium": Severity.MEDIUM},
    "mariner": {  # CBL-Mariner OVAL's <severity>
        "critical": Severity.CRITICAL,
        "high": Severity.HIGH,
        "medium": Severity.MEDIUM,
        "low": Severity.LOW,
    },
}
_DEBIAN_URGENCIES = VENDOR_WORDS["debian"]


def from_vendor(vendor: str, word: str) -> Severity:
    """A distribution's rating word (any case) as a level; UNDEFINED for words it does not use ("not yet
    assigned", "untriaged"), so the next source in precedence rates the finding."""
    return VENDOR_WORDS.get(vendor, {}).get(word.strip().lower(), Severity.UNDEFINED)


def from_cvss_score(score: float) -> Severity:
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.UNDEFINED


def from_cvss_vector(vector: str) -> tuple[Severity, str]:
    """The base-score level of a CVSS v3.x or v4 vector, and "cvss_v3"/"cvss_v4"; UNDEFINED if unusable."""
    try:
        if vector.startswith("CVSS:3."):
            return from_cvss_score(float(CVSS3(vector).base_score)), "cvss_v3"
        if vector.startswith("CVSS:4."):
            return from_cvss_score(float(CVSS4(vector).base_score)), "cvss_v4"
    except (CVSSError, ValueError, KeyError, TypeError):
        pass
    return Severity.UNDEFINED, "none"


def from_osv(record: dict[str, Any], affected: dict[str, Any]) -> tuple[Severity, str]:
    """An OSV record's rating: `database_specific.severity` (record or affected entry), then CVSS, else none."""
    level, source, _ = from_osv_with_vector(record, affected)
    return level, source


def from_osv_with_vector(record: dict[str, Any], affected: dict[str, Any]) -> tuple[Severity, str, str]:
    """`from_osv`, and the CVSS vector of the record (the one rated by, else the first usable one)."""
    vector = _osv_vector(record, affected)
    for holder in (affected, record):
        specific = holder.get("database_specific")
        word = specific.get("severity") if isinstance(specific, dict) else None
        if isinstance(word, str) and word.upper() in _ADVISORY_WORDS:
            return _ADVISORY_WORDS[word.upper()], "ghsa", vector
    # Ubuntu's OSV records carry its priority as a severity of type "Ubuntu": the distribution's own word.
    for holder in (affected, record):
        scores = holder.get("severity")
        for entry in scores if isinstance(scores, list) else ():
            if isinstance(entry, dict) and entry.get("type") == "Ubuntu" and isinstance(entry.get("score"), str):
                level = from_vendor("ubuntu", entry["score"])
                if level is not Severity.UNDEFINED:
                    return level, "ubuntu", vector
    if vector:
        level, source = from_cvss_vector(vector)
        return level, source, vector
    return Severity.UNDEFINED, "none", ""


def _osv_vector(record: dict[str, Any], affected: dict[str, Any]) -> str:
    """The first usable CVSS vector: v3 before v4 (what other scanners and the NVD rate by), per-package first."""
    for holder in (affected, record):
        scores = holder.get("severity")
        if not isinstance(scores, list):
            continue
        # A non-string type (a list, an object) is junk and must not be used as a dict key.
        vectors = {s["type"]: s.get("score") for s in scores if isinstance(s, dict) and isinstance(s.get("type"), str)}
        for kind in ("CVSS_V3", "CVSS_V4"):
            vector = vectors.get(kind)
            if isinstance(vector, str) and from_cvss_vector(vector)[0] is not Severity.UNDEFINED:
                return vector
    return ""


def cvss_base_score(vector: str) -> float | None:
    """The base score of a CVSS v3.x/v4 vector; None when it is not one."""
    try:
        if vector.startswith("CVSS:3."):
            return float(CVSS3(vector).base_score)
        if vector.startswith("CVSS:4."):
            return float(CVSS4(vector).base_score)
    except (CVSSError, ValueError, KeyError, TypeError):
        pass
    return None


# NVD precedence: CVSS v3.1 over v3.0 over v4.0 over v2 (v3.x is what NVD analyses by and what other scanners
# compare on; v4.0 is still rare and NVD rates few with it), NVD's own (Primary) before any CNA's (Secondary).
NVD_VERSIONS = ("3.1", "3.0", "4.0", "2.0")


def preferred_nvd_score(record: NvdRecord) -> CvssScore | None:
    """The NVD record's rating by the precedence above; None when it has none or the CVE is rejected."""
    if record.rejected:
        return None
    for primary in (True, False):
        for version in NVD_VERSIONS:
            for score in record.cvss:
                if score.primary is primary and score.version == version and score.severity is not Severity.UNDEFINED:
                    return score
    return None


def from_debian_urgency(urgency: str) -> Severity:
    """Debian tracker urgency; a trailing `**` (urgency not yet reviewed) is dropped."""
    return _DEBIAN_URGENCIES.get(urgency.strip().rstrip("*").strip().lower(), Severity.UNDEFINED)


def from_vendor_impact(word: str) -> Severity:
    """ALAS's and ELSA's `severity` ("Important", "MODERATE"); UNDEFINED for "N/A" and anything unknown."""
    return from_vendor("amazon", word)
