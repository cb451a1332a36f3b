"""CISA's Known Exploited Vulnerabilities catalog (the upstream JSON, `schema.json` beside it upstream).

One file; each `vulnerabilities[]` entry becomes an enrichment row (namespace `cve`, package = the CVE id)
read by `crscan.vulndb.enrichment`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

from crscan.vulndb import namespaces
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.records import KevRecord

UPSTREAM = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,19}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class KevUpdater(Updater):
    feed = "kev"

    @property
    def name(self) -> str:
        return "kev/known_exploited_vulnerabilities.json"

    @property
    def upstream_url(self) -> str:
        return UPSTREAM

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        return parse_catalog(reader, tally, source=self.name)


def parse_catalog(reader: IO[bytes], tally: Tally, *, source: str = "kev") -> Iterator[Advisory]:
    try:
        document = json.load(reader)
    except ValueError as exc:
        raise FeedError(f"{source}: not JSON ({exc})") from exc
    entries = document.get("vulnerabilities") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise FeedError(f"{source}: no `vulnerabilities` list: not a KEV catalog")
    for entry in entries:
        tally.records += 1
        advisory = _entry(entry)
        if advisory is None:
            tally.skipped += 1
        else:
            yield advisory


def _entry(entry: Any) -> Advisory | None:
    """The row of one catalog entry; None when it lacks a CVE id or a dateAdded/dueDate day."""
    if not isinstance(entry, dict):
        return None
    cve_id, added, due = entry.get("cveID"), entry.get("dateAdded"), entry.get("dueDate")
    if not (isinstance(cve_id, str) and _CVE_ID.match(cve_id) and isinstance(added, str) and _DATE.match(added)
            and isinstance(due, str) and _DATE.match(due)):
        return None
    record = KevRecord(added, due, _text(entry, "vendorProject"), _text(entry, "product"),
                       _text(entry, "vulnerabilityName"), _text(entry, "requiredAction"),
                       _text(entry, "knownRansomwareCampaignUse"))
    return Advisory("kev", namespaces.CVE, cve_id, cve_id, record)


def _text(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    return value if isinstance(value, str) else ""
