"""Per-CVE enrichment: what sources that rate vulnerabilities, not packages, say about a CVE.

Their rows live in the `cve` namespace with the CVE id as package, so one indexed lookup finds every
source's record for a CVE: NVD, CISA KEV and FIRST EPSS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crscan.vulndb import namespaces
from crscan.vulndb.db import FeedDB
from crscan.vulndb.records import EpssRecord, KevRecord, NvdRecord

# The risk sources by feed, with the name people know them by.
RISK_FEEDS = {"kev": "KEV", "epss": "EPSS"}


@dataclass(frozen=True)
class CveFacts:
    """Everything the enrichment sources know about one CVE (a field per source; None: not in that source)."""

    nvd: NvdRecord | None = None
    kev: KevRecord | None = None
    epss: EpssRecord | None = None


def cve_facts(db: FeedDB, cve_ids: Iterable[str]) -> dict[str, CveFacts]:
    """The facts of each CVE some source knows; CVEs no source has are absent."""
    found: dict[str, CveFacts] = {}
    for cve_id, advisories in db.advisories_for(namespaces.CVE, cve_ids).items():
        found[cve_id] = CveFacts(
            nvd=next((a.record for a in advisories if isinstance(a.record, NvdRecord)), None),
            kev=next((a.record for a in advisories if isinstance(a.record, KevRecord)), None),
            epss=next((a.record for a in advisories if isinstance(a.record, EpssRecord)), None),
        )
    return found


def missing_risk_feeds(db: FeedDB) -> tuple[str, ...]:
    """The risk sources ("KEV", "EPSS") of which the build has no row: without them every finding would look
    unexploited and unscored, so callers say so instead (never a silent zero)."""
    present = {source.name.split("/", 1)[0] for source in db.sources if source.rows > 0}
    return tuple(label for feed, label in RISK_FEEDS.items() if feed not in present)
