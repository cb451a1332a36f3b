"""The real PyPI feed, judged without our range logic: for every (package, version) named in an
advisory's explicit `versions` list, the advisories matched among those with lists are exactly the
ones whose list names that version (equal under PEP 440, via `packaging`, or as the same string)."""

from __future__ import annotations

from collections import defaultdict

from packaging.version import InvalidVersion, Version

from crscan.match.osv import OsvMatcher
from crscan.model import Ecosystem, Package
from crscan.vulndb import namespaces


def _pep440(text):
    try:
        return Version(text)
    except InvalidVersion:
        return text


def test_every_listed_pypi_version_matches_exactly_the_advisories_listing_it(shared_db):
    listing = defaultdict(dict)  # package -> advisory id -> set of listed versions (PEP 440)
    for advisory in shared_db.iter_advisories(namespaces.osv("PyPI")):
        if advisory.record.versions:
            listing[advisory.package][advisory.advisory_id] = {_pep440(v) for v in advisory.record.versions}
    pairs = sorted({(package, v) for advisory in shared_db.iter_advisories(namespaces.osv("PyPI"))
                    for package in [advisory.package] for v in advisory.record.versions})
    assert len(pairs) > 30_000

    matched = defaultdict(set)
    packages = [Package(Ecosystem.PYPI, name, version) for name, version in pairs]
    for found in OsvMatcher().match(packages, None, shared_db):
        matched[(found.package.name, found.package.version)].add(found.finding.advisory_id)

    wrong = []
    for name, version in pairs:
        expected = {aid for aid, listed in listing[name].items() if _pep440(version) in listed}
        got = matched[(name, version)] & listing[name].keys()
        if got != expected:
            wrong.append((name, version, sorted(expected - got), sorted(got - expected)))
    assert wrong == []
