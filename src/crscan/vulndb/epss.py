"""FIRST's Exploit Prediction Scoring System: the daily `epss_scores-current.csv.gz`.

Its first line is `#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z`, then the header
`cve,epss,percentile` and one line per scored CVE. Each line becomes an enrichment row (namespace `cve`,
package = the CVE id) read by `crscan.vulndb.enrichment`.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator
from typing import IO

from crscan.vulndb import namespaces
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.records import EpssRecord

UPSTREAM = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
_GZIP_MAGIC = b"\x1f\x8b"


class EpssUpdater(Updater):
    feed = "epss"

    @property
    def name(self) -> str:
        return "epss/epss_scores-current.csv.gz"

    @property
    def upstream_url(self) -> str:
        return UPSTREAM

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_scores(reader, tally, source=self.name)


def parse_scores(reader: IO[bytes], tally: Tally, *, source: str = "epss") -> Iterator[Advisory]:
    """The rows of a scores file, gzip-compressed (as published) or plain."""
    data = reader.read()  # a day's scores are ~10 MB uncompressed: one read is simplest
    try:
        text = (gzip.decompress(data) if data[:2] == _GZIP_MAGIC else data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # gzip.BadGzipFile is an OSError
        raise FeedError(f"{source}: not an EPSS scores file ({exc})") from exc
    lines = io.StringIO(text)
    model_version, score_date = _meta(lines.readline(), source)
    if lines.readline().strip() != "cve,epss,percentile":
        raise FeedError(f"{source}: second line is not the header `cve,epss,percentile`")
    for line in lines:
        if not line.strip():
            continue
        tally.records += 1
        advisory = _row(line, model_version, score_date)
        if advisory is None:
            tally.skipped += 1
        else:
            yield advisory


def _meta(line: str, source: str) -> tuple[str, str]:
    """`#model_version:…,score_date:…` -> (model version, score date)."""
    if not line.startswith("#"):
        raise FeedError(f"{source}: first line is not `#model_version:…,score_date:…`")
    fields = dict(part.split(":", 1) for part in line[1:].strip().split(",") if ":" in part)
    if "model_version" not in fields or "score_date" not in fields:
        raise FeedError(f"{source}: first line is not `#model_version:…,score_date:…`")
    return fields["model_version"], fields["score_date"]


def _row(line: str, model_version: str, score_date: str) -> Advisory | None:
    parts = line.strip().split(",")
    if len(parts) != 3 or not _CVE_ID.match(parts[0]):
        return None
    try:
        score, percentile = float(parts[1]), float(parts[2])
    except ValueError:
        return None
    if not (0.0 <= score <= 1.0 and 0.0 <= percentile <= 1.0):
        return None
    return Advisory("epss", namespaces.CVE, parts[0], parts[0], EpssRecord(score, percentile, model_version, score_date))
