"""Scanning the shared test images with the shared feeds (NVD sample included): no finding is left UNDEFINED
when NVD scores its CVE, and every rated finding says which source won."""

from __future__ import annotations

import pytest

from crscan.catalog import default_catalogers
from crscan.match.severity import cve_of
from crscan.model import Severity
from crscan.registry import open_source
from crscan.scan.pipeline import Scanner
from crscan.vulndb.enrichment import cve_facts
from crscan.vulndb.severity import preferred_nvd_score

pytestmark = pytest.mark.registry


def test_no_finding_stays_undefined_when_nvd_scores_its_cve(built_images, feed_db):
    scanner = Scanner(default_catalogers())
    scored_by_nvd = 0
    for name, image in sorted(built_images.items()):
        with open_source(image.oci_ref) as source:
            report = scanner.scan(source, feed_db)
        facts = cve_facts(feed_db, {cve for f in report.findings if (cve := cve_of(f))})
        for finding in report.findings:
            known = facts.get(cve_of(finding))
            score = preferred_nvd_score(known.nvd) if known and known.nvd else None
            if score is not None:
                assert finding.severity is not Severity.UNDEFINED, (name, finding)
                assert finding.detail is not None and finding.detail.nvd_cvss_score == score.score
            if finding.severity_source in ("nvd", "cna"):
                scored_by_nvd += 1
                assert (finding.cvss_vector, finding.cvss_score, finding.severity) == (
                    score.vector, score.score, score.severity), (name, finding)
            assert (finding.severity is Severity.UNDEFINED) == (finding.severity_source == "none"), finding
        # One finding per vulnerability on one installed package at one path.
        keys = [(f.source, f.package, f.version, f.path, f.name) for f in report.findings]
        assert len(keys) == len(set(keys)), name
    assert scored_by_nvd > 0  # the images hold packages whose CVEs only NVD rates
