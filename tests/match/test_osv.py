"""OSV range semantics on hand-written records (testdata/osv), through the DB build and `match`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.match import match
from crscan.match.findings import parsed
from crscan.match.osv import OsvMatcher, affected, compile_advisory
from crscan.model import Ecosystem, LayerRef, Package, Severity
from crscan.vulndb import Advisory
from crscan.vulndb.compiled import sort_key
from crscan.vulndb.records import OsvRange, OsvRecord


def _osv(db, package):
    return {m.finding.advisory_id: m.finding.fixed_by for m in OsvMatcher().match([package], None, db)}


# (installed version of range-pkg) -> {advisory id: fixed_by}. The enumerated versions (named by some
# advisory's `versions` list) are 0.9, 1.0, 1.0.1, 1.1, 1.2; the lists decide for those.
RANGE_PKG = {
    "0.5": {"TEST-LAST-AFFECTED": "", "TEST-LIMIT": "", "TEST-LIST-AUTHORITATIVE": "2.0"},
    "0.9": {"TEST-LAST-AFFECTED": "", "TEST-LIMIT": "", "TEST-LISTED": ""},
    # A backport release the coarse range covers but the enumerated list leaves out: not affected.
    "1.0.1": {"TEST-INTRO-FIXED": "1.5", "TEST-LAST-AFFECTED": "", "TEST-LIMIT": "", "TEST-LISTED": ""},
    "1.1.0": {"TEST-INTRO-FIXED": "1.5", "TEST-LAST-AFFECTED": "", "TEST-LIMIT": "", "TEST-LIST-AUTHORITATIVE": "2.0"},
    "1.2": {"TEST-INTRO-FIXED": "1.5", "TEST-LAST-AFFECTED": "", "TEST-LIMIT": "", "TEST-LIST-AUTHORITATIVE": "2.0"},
    "1.3": {"TEST-INTRO-FIXED": "1.5", "TEST-LIMIT": "", "TEST-LIST-AUTHORITATIVE": "2.0"},
    "1.5": {"TEST-LIMIT": "", "TEST-LIST-AUTHORITATIVE": "2.0"},
    "2.0": {"TEST-INTRO-FIXED": "2.1", "TEST-LIMIT": ""},
    "2.0.5": {"TEST-INTRO-FIXED": "2.1", "TEST-LIMIT": ""},
    "2.1": {"TEST-LIMIT": ""},
    "3.0": {},
    # Not PEP 440: a legacy version, below every PEP 440 one as pip's LegacyVersion put it.
    "not a version!": {"TEST-LAST-AFFECTED": "", "TEST-LIMIT": "", "TEST-LIST-AUTHORITATIVE": "2.0"},
}


@pytest.mark.parametrize("version", RANGE_PKG)
def test_ecosystem_ranges_lists_limits_and_withdrawn(fixture_db, version):
    # The installed name is PEP 503-normalised like the records' "Range_Pkg" / "range-pkg".
    assert _osv(fixture_db, Package(Ecosystem.PYPI, "Range.Pkg", version)) == RANGE_PKG[version]


@pytest.mark.parametrize("ecosystem, name, version, expected", [
    (Ecosystem.NPM, "semver-pkg", "1.2.3-beta.1", {"TEST-NPM-1": "1.2.3"}),
    (Ecosystem.NPM, "semver-pkg", "1.2.3", {}),
    (Ecosystem.NPM, "semver-pkg", "2.0.0-beta", {}),
    (Ecosystem.NPM, "semver-pkg", "2.0.0-rc.2", {"TEST-NPM-1": "2.0.1"}),
    (Ecosystem.NPM, "semver-pkg", "2.0.0", {"TEST-NPM-1": "2.0.1"}),
    (Ecosystem.GO, "example.com/mod", "v1.3.9", {"TEST-GO-1": "1.4.0"}),
    (Ecosystem.GO, "example.com/mod", "v1.0.0", {}),
    (Ecosystem.GO, "example.com/mod", "v1.4.0", {}),
    (Ecosystem.GO, "example.com/Mod", "v1.3.9", {}),  # Go module paths are case-sensitive
])
def test_semver_ranges(fixture_db, ecosystem, name, version, expected):
    assert _osv(fixture_db, Package(ecosystem, name, version)) == expected


def test_finding_carries_cve_name_advisory_id_link_rating_and_package_origin(fixture_db):
    package = Package(Ecosystem.PYPI, "range_pkg", "2.0.5", layer=LayerRef("sha256:aa", "sha256:bb"),
                      path="/usr/lib/python3/dist-packages/range_pkg-2.0.5.dist-info/METADATA")
    by_id = {f.advisory_id: f for f in match([package], None, fixture_db)}
    finding = by_id["TEST-INTRO-FIXED"]
    assert finding.name == "CVE-0000-1001"
    # Named by its CVE, so the link is the CVE's record (the advisory id stays in advisory_id and aliases).
    assert finding.link == "https://nvd.nist.gov/vuln/detail/CVE-0000-1001"
    assert finding.aliases == ("TEST-INTRO-FIXED",)
    assert (finding.severity, finding.severity_source) == (Severity.MEDIUM, "ghsa")
    assert (finding.package, finding.source, finding.version, finding.fixed_by) == ("range_pkg", "pip", "2.0.5", "2.1")
    assert (finding.origin, finding.type, finding.feed) == ("lang", "python-pkg", "osv")
    assert (finding.layer, finding.path) == (package.layer, package.path)
    assert by_id["TEST-LIMIT"].name == "TEST-LIMIT"
    assert (by_id["TEST-LIMIT"].severity, by_id["TEST-LIMIT"].severity_source) == (Severity.UNDEFINED, "none")
    cvss_rated = {f.advisory_id: f for f in match([Package(Ecosystem.PYPI, "range-pkg", "1.0")], None, fixture_db)}
    assert (cvss_rated["TEST-LAST-AFFECTED"].severity, cvss_rated["TEST-LAST-AFFECTED"].severity_source) == (
        Severity.CRITICAL, "cvss_v3")


def test_advisories_aliasing_each_other_give_one_finding(fixture_db):
    (finding,) = match([Package(Ecosystem.PYPI, "alias-pkg", "0.5")], None, fixture_db)
    assert finding.advisory_id in ("TEST-GHSA-1", "TEST-PYSEC-1")
    assert (finding.severity, finding.fixed_by) == (Severity.HIGH, "1.0")


EVENTS = [["introduced", "0"], ["fixed", "1.0"], ["introduced", "2.0"], ["last_affected", "2.5"],
          ["introduced", "3.0"], ["fixed", "3.2"], ["limit", "3.1"]]


@settings(max_examples=200, deadline=None)
@given(order=st.permutations(range(len(EVENTS))),
       version=st.sampled_from(["0.1", "1.0", "1.5", "2.0", "2.5", "2.6", "3.0", "3.0.5", "3.1", "3.3"]))
def test_event_order_in_the_feed_does_not_change_the_verdict(order, version):
    def verdict(events):
        record = OsvRecord("X", (), (OsvRange("ECOSYSTEM", tuple(map(tuple, events))),), (), Severity.UNDEFINED,
                           "none")
        advisory = Advisory("osv", "osv:PyPI", "p", "X", record)
        return affected(compile_advisory("pypi", advisory), (), sort_key(parsed("pypi", version)), frozenset())

    expected = {"0.1": "1.0", "2.0": "", "2.5": "", "3.0": "3.2", "3.0.5": "3.2"}.get(version)
    assert verdict(EVENTS) == expected
    assert verdict([EVENTS[i] for i in order]) == expected
