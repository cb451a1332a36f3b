"""Feed records: one frozen dataclass per feed kind, the typed payload of an `Advisory` row.

A parser builds records; the DB stores each as compact JSON (`columns`) and the reader decodes it once
(`decode`), so matchers read attributes, never keys. Adding a feed kind: a class here with `columns` and
`from_columns`, and its feed name in `RECORDS` (a feed in another's format, such as Wolfi's secdb, reuses
that class under its own name).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from crscan.model import Severity


def _compact(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


_decode_prefix = json.JSONDecoder().raw_decode


def _loads(data: str) -> Any:
    """A row's JSON, which `_compact` wrote: decoded without `json.loads`'s checks for surrounding whitespace,
    which cost about as much as decoding a short row (matching decodes tens of thousands)."""
    return _decode_prefix(data)[0]


class FeedRecord(ABC):
    """What one feed says about one package in one namespace."""

    __slots__ = ()

    @abstractmethod
    def columns(self) -> tuple[str, str | None]:
        """The row's `data` (compact JSON) and `versions` (newline-separated, or None) columns."""

    @classmethod
    @abstractmethod
    def from_columns(cls, data: str, versions: str | None) -> FeedRecord:
        """The record `columns` wrote."""


@dataclass(frozen=True, slots=True)
class OsvRange:
    """An ECOSYSTEM or SEMVER range: its events in feed order (GIT ranges are dropped when parsed)."""

    type: str
    events: tuple[tuple[str, str], ...]  # (introduced | fixed | last_affected | limit, version)


@dataclass(frozen=True, slots=True)
class OsvRecord(FeedRecord):
    """One OSV advisory's view of one package: the ranges and explicit versions of its affected entries."""

    name: str  # the CVE id when the advisory has one, else its own id
    aliases: tuple[str, ...]
    ranges: tuple[OsvRange, ...]
    versions: tuple[str, ...]  # OSV's explicit list of affected versions, as written
    severity: Severity
    severity_source: str
    # Red Hat-family module streams ("nodejs:18") an advisory of module builds is about; () for all others.
    streams: tuple[str, ...] = ()
    cvss_vector: str = ""  # the advisory's CVSS vector (v3 before v4), "" when it has none

    def columns(self) -> tuple[str, str | None]:
        # The version list goes in its own column: splitting a string is faster than decoding JSON.
        data: dict[str, Any] = {
            "name": self.name,
            "aliases": list(self.aliases),
            "ranges": [[r.type, [list(event) for event in r.events]] for r in self.ranges],
            "severity": self.severity.name,
            "severity_source": self.severity_source,
        }
        if self.cvss_vector:
            data["cvss"] = self.cvss_vector
        if self.streams:
            data["streams"] = list(self.streams)
        return _compact(data), "\n".join(self.versions)

    @classmethod
    def from_columns(cls, data: str, versions: str | None) -> OsvRecord:
        decoded = _loads(data)
        return cls(
            decoded["name"],
            tuple(decoded["aliases"]),
            tuple(OsvRange(kind, tuple(map(tuple, events))) for kind, events in decoded["ranges"]),
            tuple(versions.split("\n")) if versions else (),
            Severity[decoded["severity"]],
            decoded["severity_source"],
            tuple(decoded.get("streams", ())),
            decoded.get("cvss", ""),
        )


@dataclass(frozen=True, slots=True)
class DebianEntry(FeedRecord):
    """The Debian security tracker's verdict on one source package in one release."""

    status: str  # open | resolved | undetermined
    fixed_version: str  # "" while no fix is known; "0" when the release never had the vulnerable code
    severity: Severity
    severity_source: str
    nodsa: bool  # no DSA will be issued (minor issue); still a vulnerability

    def columns(self) -> tuple[str, str | None]:
        return _compact({
            "status": self.status,
            "fixed_version": self.fixed_version,
            "severity": self.severity.name,
            "severity_source": self.severity_source,
            "nodsa": self.nodsa,
        }), None

    @classmethod
    def from_columns(cls, data: str, versions: str | None) -> DebianEntry:
        decoded = _loads(data)
        return cls(decoded["status"], decoded["fixed_version"], Severity[decoded["severity"]],
                   decoded["severity_source"], decoded["nodsa"])


@dataclass(frozen=True, slots=True)
class SecdbEntry(FeedRecord):
    """A secdb `secfixes` entry (Alpine): the version that fixed the vulnerability; "0" for never affected."""

    fixed_version: str

    def columns(self) -> tuple[str, str | None]:
        return _compact({"fixed_version": self.fixed_version}), None

    @classmethod
    def from_columns(cls, data: str, versions: str | None) -> SecdbEntry:
        return cls(_loads(data)["fixed_version"])


@dataclass(frozen=True, slots=True)
class RpmFix(FeedRecord):
    """A vendor advisory's fix of one binary rpm in one release (Amazon ALAS, Oracle ELSA, Photon, Mariner): installed
    versions older than `fixed_version` are affected. One record per CVE the advisory names.

    A vendor that states no fix yet but the last affected build (Mariner's not-patchable definitions) gives
    `last_affected` and an empty `fixed_version`: installed versions at or below it are affected, unfixed."""

    name: str  # the CVE; the advisory's own id when it names none
    fixed_version: str  # [epoch:]version-release; "" when no fix is stated (see `last_affected`)
    arch: str  # "" when the fix is the same on every architecture
    module: str  # "name:stream" when the fix is for a module stream's build (Oracle 8+), else ""
    severity: Severity
    severity_source: str
    last_affected: str = ""  # [epoch:]version-release of the newest affected build when no fix is stated

    def columns(self) -> tuple[str, str | None]:
        data: dict[str, Any] = {
            "name": self.name,
            "fixed_version": self.fixed_version,
            "arch": self.arch,
            "module": self.module,
            "severity": self.severity.name,
            "severity_source": self.severity_source,
        }
        if self.last_affected:
            data["last_affected"] = self.last_affected
        return _compact(data), None

    @classmethod
    def from_columns(cls, data: str, versions: str | None) -> RpmFix:
        decoded = _loads(data)
        return cls(decoded["name"], decoded["fixed_version"], decoded["arch"], decoded["module"],
                   Severity[decoded["severity"]], decoded["severity_source"], decoded.get("last_affected", ""))


@dataclass(frozen=True, slots=True)
class VendorStatus(FeedRecord):
    """A vendor's statement on one package and one vulnerability, fixed or not (the Ubuntu CVE tracker, Red
    Hat's CSAF VEX, the Wolfi and Chainguard advisories): `status` in Trivy's words (`model.FINDING_STATUSES`);
    a "fixed" statement has the version that fixed it, every other one applies to any installed version."""

    name: str  # the CVE (else the advisory's own id)
    status: str
    fixed_version: str  # "" unless status is "fixed"
    severity: Severity
    severity_source: str
    module: str = ""  # Red Hat: "name:stream" when the statement is about a module stream's builds
    by_source: bool = False  # Red Hat: the row names the source rpm, not a binary one

    def columns(self) -> tuple[str, str | None]:
        data: dict[str, Any] = {"name": self.name, "status": self.status, "fixed_version": self.fixed_version,
                                "severity": self.severity.name, "severity_source": self.severity_source}
        if self.module:
            data["module"] = self.module
        if self.by_source:
            data["by_source"] = True
        return _compact(data), None

    @classmethod
    def from_columns(cls, data: str, versions: str | None) -> VendorStatus:
        d = _loads(data)
        return cls(d["name"], d["status"], d["fixed_version"], Severity[d["severity"]], d["severity_source"],
                   d.get("module", ""), d.get("by_source", False))


@dataclass(frozen=True, slots=True)
class CvssScore:
    """One CVSS rating of a CVE: its version ("4.0", "3.1", "3.0", "2.0"), vector, base score and level."""

    version: str
    vector: str
    score: float
    severity: Severity
    primary: bool  # NVD's own analysis ("Primary"); False for a CNA's or ADP's ("Secondary")


@dataclass(frozen=True, slots=True)
class NvdRecord(FeedRecord):
    """What the NVD (CVE API 2.0) says about one CVE: an enrichment record, stored under namespace `cve`
    with the CVE id as its package (see `crscan.vulndb.enrichment`)."""

    status: str  # vulnStatus: Received, Awaiting Analysis, Analyzed, Modified, Rejected, ...
    published: str
    modified: str
    description: str  # the English one
    cwes: tuple[str, ...]
    references: tuple[str, ...]
    cvss: tuple[CvssScore, ...]

    @property
    def rejected(self) -> bool:
        return self.status == "Rejected"

    def columns(self) -> tuple[str, str | None]:
        return _compact({
            "status": self.status, "published": self.published, "modified": self.modified,
            "description": self.description, "cwes": list(self.cwes), "references": list(self.references),
            "cvss": [[c.version, c.vector, c.score, c.severity.name, c.primary] for c in self.cvss],
        }), None

    @classmethod
    def from_columns(cls, data: str, versions: str | None) -> NvdRecord:
        d = _loads(data)
        return cls(d["status"], d["published"], d["modified"], d["description"], tuple(d["cwes"]),
                   tuple(d["references"]),
                   tuple(CvssScore(v, vector, score, Severity[level], primary)
                         for v, vector, score, level, primary in d["cvss"]))


@dataclass(frozen=True, slots=True)
class KevRecord(FeedRecord):
    """A CVE in CISA's Known Exploited Vulnerabilities catalog: exploited in the wild (enrichment, namespace `cve`)."""

    date_added: str  # YYYY-MM-DD: when CISA added it
    due_date: str  # YYYY-MM-DD: the remediation deadline for US federal agencies
    vendor_project: str
    product: str
    vulnerability_name: str
    required_action: str
    known_ransomware: str  # "Known" | "Unknown"

    def columns(self) -> tuple[str, str | None]:
        return _compact({
            "date_added": self.date_added, "due_date": self.due_date, "vendor_project": self.vendor_project,
            "product": self.product, "vulnerability_name": self.vulnerability_name,
            "required_action": self.required_action, "known_ransomware": self.known_ransomware,
        }), None

    @classmethod
    def from_columns(cls, data: str, versions: str | None) -> KevRecord:
        return cls(**_loads(data))


@dataclass(frozen=True, slots=True)
class EpssRecord(FeedRecord):
    """FIRST's EPSS for a CVE: the probability of exploitation in the next 30 days and its percentile among
    all scored CVEs, from the model version and day named (enrichment, namespace `cve`)."""

    score: float  # 0..1
    percentile: float  # 0..1
    model_version: str
    score_date: str

    def columns(self) -> tuple[str, str | None]:
        return _compact({"score": self.score, "percentile": self.percentile, "model_version": self.model_version,
                         "score_date": self.score_date}), None

    @classmethod
    def from_columns(cls, data: str, versions: str | None) -> EpssRecord:
        return cls(**_loads(data))


# Feed name (`Advisory.feed`, the DB's `feed` column) -> its record class.
RECORDS: dict[str, type[FeedRecord]] = {
    "osv": OsvRecord,
    "debian": DebianEntry,
    "alpine": SecdbEntry,
    "amazon": RpmFix,
    "oracle": RpmFix,
    "photon": RpmFix,
    "mariner": RpmFix,
    "wolfi": SecdbEntry,
    "chainguard": SecdbEntry,
    "ubuntu": VendorStatus,
    "redhat": VendorStatus,
    "wolfi-advisories": VendorStatus,
    "chainguard-advisories": VendorStatus,
    "nvd": NvdRecord,
    "kev": KevRecord,
    "epss": EpssRecord,
}


def decode(feed: str, data: str, versions: str | None) -> FeedRecord:
    """The record of a stored row of `feed`."""
    return RECORDS[feed].from_columns(data, versions)
