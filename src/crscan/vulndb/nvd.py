"""NVD CVE records (CVE API 2.0 `cve` objects): CVSS ratings, status, description, CWEs and references per CVE.

Read from a mirror laid out like fkie-cad/nvd-json-data-feeds: per year either the record tree
`nvd/CVE-YYYY/CVE-YYYY-NNNxx/CVE-YYYY-NNNNN.json` or the release bundle `nvd/CVE-YYYY.json.xz`
(also what an HTTP mirror and upstream serve). A bundle may also be an API 2.0 response page
(`{"vulnerabilities": [{"cve": …}]}`). NVD records describe CVEs, not packages: they are enrichment rows
(namespace `cve`, package = the CVE id) read by `crscan.vulndb.enrichment`.
"""

from __future__ import annotations

import json
import lzma
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from crscan.model import Severity
from crscan.vulndb import namespaces
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.records import CvssScore, NvdRecord
from crscan.vulndb.severity import from_cvss_score

UPSTREAM = "https://github.com/fkie-cad/nvd-json-data-feeds/releases/latest/download"
FIRST_YEAR = 1999
MAX_RECORD_BYTES = 16 << 20
_XZ_MAGIC = b"\xfd7zXZ\x00"
_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
_YEAR_DIR = re.compile(r"^CVE-(\d{4})(?:\.json\.xz)?$")
# API 2.0 metric keys, newest CVSS version first; the version each holds.
METRIC_KEYS = (("cvssMetricV40", "4.0"), ("cvssMetricV31", "3.1"), ("cvssMetricV30", "3.0"), ("cvssMetricV2", "2.0"))
_LEVELS = {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW,
           "NONE": Severity.NEGLIGIBLE}


class MalformedRecord(ValueError):
    """One record is not a CVE API 2.0 `cve` object; it is skipped and counted."""


class NvdUpdater(Updater):
    """One year of CVEs."""

    feed = "nvd"

    def __init__(self, year: int) -> None:
        self.year = year

    @property
    def name(self) -> str:
        return f"nvd/CVE-{self.year}"

    @property
    def file_name(self) -> str:
        return f"nvd/CVE-{self.year}.json.xz"

    @property
    def upstream_url(self) -> str:
        return f"{UPSTREAM}/CVE-{self.year}.json.xz"

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_bundle(reader, tally, source=self.file_name)

    def read(self, path: Path, tally: Tally) -> Iterator[Advisory]:
        if path.is_dir():
            return parse_tree(path, tally)
        return super().read(path, tally)


def years(mirror_dir: Path | None) -> tuple[int, ...]:
    """The years a mirror directory has (record trees or bundles); every year since 1999 for URLs."""
    if mirror_dir is None:
        return tuple(range(FIRST_YEAR, datetime.now(UTC).year + 1))
    root = mirror_dir / "nvd"
    found = {int(m.group(1)) for p in root.iterdir() if (m := _YEAR_DIR.match(p.name))} if root.is_dir() else set()
    return tuple(sorted(found))


def parse_tree(root: Path, tally: Tally) -> Iterator[Advisory]:
    """Every `CVE-*.json` record file under a year's directory, in name order."""
    for path in sorted(root.rglob("CVE-*.json")):
        tally.records += 1
        try:
            if path.stat().st_size > MAX_RECORD_BYTES:
                raise MalformedRecord(f"{path.name} is larger than {MAX_RECORD_BYTES} bytes")
            yield parse_cve(json.loads(path.read_bytes()))
        except (MalformedRecord, ValueError, OSError):
            tally.skipped += 1


def parse_bundle(reader: IO[bytes], tally: Tally, *, source: str = "nvd") -> Iterator[Advisory]:
    """The records of a bundle: xz-compressed or plain JSON, a `cve_items` list (fkie-cad releases), an
    API page's `vulnerabilities`, a bare list, or one record."""
    head = reader.read(len(_XZ_MAGIC))
    rest = reader.read()
    try:
        raw = lzma.decompress(head + rest) if head == _XZ_MAGIC else head + rest
        document = json.loads(raw)
    except (lzma.LZMAError, ValueError) as exc:
        raise FeedError(f"{source}: not an NVD bundle ({exc})") from exc
    for item in _items(document, source):
        tally.records += 1
        try:
            yield parse_cve(item.get("cve", item) if isinstance(item, dict) else item)
        except MalformedRecord:
            tally.skipped += 1


def _items(document: Any, source: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in ("cve_items", "vulnerabilities"):
            if isinstance(document.get(key), list):
                return list(document[key])
        if "id" in document:
            return [document]
    raise FeedError(f"{source}: neither a list of CVE records nor an object holding one")


def parse_cve(cve: Any) -> Advisory:
    """The enrichment row of one CVE API 2.0 `cve` object."""
    if not isinstance(cve, dict) or not isinstance(cve.get("id"), str) or not _CVE_ID.match(cve["id"]):
        raise MalformedRecord("record without a CVE id")
    cve_id = cve["id"]
    metrics = cve.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise MalformedRecord(f"{cve_id}: metrics is not an object")
    scores = [score for key, version in METRIC_KEYS for entry in _dicts(metrics.get(key), cve_id)
              if (score := _score(entry, version, cve_id)) is not None]
    record = NvdRecord(
        status=_text(cve.get("vulnStatus")),
        published=_text(cve.get("published")),
        modified=_text(cve.get("lastModified")),
        description=next((_text(d.get("value")) for d in _dicts(cve.get("descriptions"), cve_id)
                          if d.get("lang") == "en"), ""),
        cwes=tuple(dict.fromkeys(
            value for weakness in _dicts(cve.get("weaknesses"), cve_id)
            for d in _dicts(weakness.get("description"), cve_id)
            if (value := _text(d.get("value"))).startswith("CWE-"))),
        references=tuple(dict.fromkeys(
            url for r in _dicts(cve.get("references"), cve_id) if (url := _text(r.get("url"))))),
        cvss=tuple(scores),
    )
    return Advisory("nvd", namespaces.CVE, cve_id, cve_id, record)


def _score(entry: dict[str, Any], version: str, cve_id: str) -> CvssScore | None:
    data = entry.get("cvssData")
    if not isinstance(data, dict):
        raise MalformedRecord(f"{cve_id}: CVSS metric without cvssData")
    vector, score = data.get("vectorString"), data.get("baseScore")
    if not isinstance(vector, str) or not isinstance(score, int | float) or isinstance(score, bool):
        raise MalformedRecord(f"{cve_id}: CVSS {version} metric without vectorString or baseScore")
    # v3/v4 carry the level in cvssData, v2 beside it; v2 has no CRITICAL band, so its word is kept as given.
    word = data.get("baseSeverity", entry.get("baseSeverity"))
    level = _LEVELS.get(word.upper(), Severity.UNDEFINED) if isinstance(word, str) else from_cvss_score(float(score))
    return CvssScore(version, vector, float(score), level, entry.get("type") == "Primary")


def _dicts(value: Any, cve_id: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedRecord(f"{cve_id}: expected a list, got {type(value).__name__}")
    return [v for v in value if isinstance(v, dict)]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
