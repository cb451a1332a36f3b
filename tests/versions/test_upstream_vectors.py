"""compare/parse against the upstream test vectors in the shared data (versions/README in shared data).

Each test walks one whole file and reports every disagreeing case at once.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from crscan import versions


def _tsv_cases(path: Path) -> list[tuple[str, str, int]]:
    cases = []
    for line in path.read_text().splitlines():
        a, b, expected = line.split("\t")
        cases.append((a, b, int(expected)))
    assert cases, f"{path} has no cases"
    return cases


@pytest.mark.parametrize("scheme", ["deb", "rpm", "apk"])
def test_compare_agrees_with_every_tsv_case(shared_data, scheme):
    failures = []
    for a, b, expected in _tsv_cases(shared_data / "versions" / f"{scheme}.tsv"):
        got, reverse = versions.compare(scheme, a, b), versions.compare(scheme, b, a)
        if (got, reverse) != (expected, -expected):
            failures.append(f"{a!r} vs {b!r}: expected {expected}, got {got} (reversed {reverse})")
    assert not failures, "\n".join(failures)


def test_apk_valid_versions_parse(shared_data):
    lines = (shared_data / "versions" / "apk-valid.txt").read_text().splitlines()
    assert lines
    for text in lines:
        assert str(versions.parse("apk", text)) == text


def test_apk_invalid_versions_raise(shared_data):
    lines = (shared_data / "versions" / "apk-invalid.txt").read_text().splitlines()
    assert "" in lines  # the file starts with the empty version
    accepted = []
    for text in lines:
        try:
            versions.parse("apk", text)
        except versions.InvalidVersion as error:
            assert repr(text) in str(error)
        else:
            accepted.append(text)
    assert not accepted, f"accepted invalid apk versions: {accepted}"


def test_apk_compares_like_apk_tools_past_an_invalid_tail():
    # apk.tsv compares "1.0" with "1.0bc", which apk_version_validate rejects: apk-tools compares up
    # to the bad token, which sorts below the end. parse() still refuses the string.
    assert versions.compare("apk", "1.0", "1.0bc") == -1
    assert versions.compare("apk", "1.0bc", "1.0bd") == 0
    with pytest.raises(versions.InvalidVersion, match=r"1.0bc"):
        versions.parse("apk", "1.0bc")
    with pytest.raises(versions.InvalidVersion, match="does not start with a digit"):
        versions.compare("apk", "junk", "1.0")


def test_pep440_sorted_list_is_strictly_ascending_in_every_pair(shared_data):
    ordered = (shared_data / "versions" / "pep440-sorted.txt").read_text().splitlines()
    assert len(ordered) > 1
    failures = [
        f"{low!r} !< {high!r}"
        for low, high in itertools.combinations(ordered, 2)
        if versions.compare("pypi", low, high) != -1 or versions.compare("pypi", high, low) != 1
    ]
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def semver_fixtures(shared_data) -> dict:
    return json.loads((shared_data / "versions" / "semver-fixtures.json").read_text())


def test_semver_comparisons_first_is_greater(semver_fixtures):
    # node-semver test/fixtures/comparisons.js: [v0, v1, options] with v0 > v1; the loose ones only
    # add a leading "v", which node-semver's strict parser accepts too.
    cases = semver_fixtures["comparisons"]
    assert cases
    failures = [
        f"{greater!r} vs {lesser!r}"
        for greater, lesser, *_ in cases
        if (versions.compare("semver", greater, lesser), versions.compare("semver", lesser, greater)) != (1, -1)
    ]
    assert not failures, "\n".join(failures)


def test_semver_equality_ignores_prefix_whitespace_and_build(semver_fixtures):
    cases = semver_fixtures["equality"]
    assert cases
    failures = [f"{a!r} != {b!r}" for a, b, *_ in cases if versions.compare("semver", a, b) != 0]
    assert not failures, "\n".join(failures)
    for a, b, *_ in cases:
        assert hash(versions.parse("semver", a)) == hash(versions.parse("semver", b))


def test_semver_valid_versions_parse_into_their_parts(semver_fixtures):
    cases = semver_fixtures["valid-versions"]
    assert cases
    for text, major, minor, patch, prerelease, build in cases:
        parsed = versions.parse("semver", text)
        assert (parsed.major, parsed.minor, parsed.patch) == (major, minor, patch), text
        assert list(parsed.prerelease) == prerelease, text
        assert list(parsed.build) == build, text


def test_semver_fixture_lists_not_covered_are_ranges(semver_fixtures):
    # range-include / range-exclude test range syntax (^1.2.3, 1.0.0 - 2.0.0), which is the matcher's
    # business, not a version's; this pins that no other list exists that we silently skip.
    assert set(semver_fixtures) == {"comparisons", "equality", "valid-versions", "range-include", "range-exclude"}


# Typos in the secdb files themselves (a stray '.', a Debian-style revision, a doubled -r): apk-tools
# rejects them too (version.c token_next), so they are the only strings that may fail.
SECDB_TYPOS = {
    "0.8.21.r2", "1.18.-r2", "4.8.0.-r1", "10.2.26.r0", "10.2.24.r0", "10.2.22.r0", "1.11-20-r0", "4.10-1-r1",
    "6.6.2p1-r0", "2.7.16-33", "57-1-r2", "1.7.5.-r1", "1.0.4.-r0", "0.12.5.-r0", "2.15.r-r1", "1.1.0-r1-r0",
}


def test_every_apk_version_the_alpine_and_wolfi_secdbs_name_parses(shared_data):
    feeds = shared_data / "feeds"
    seen = set()
    for path in [*sorted((feeds / "alpine").glob("v*/*.json")), feeds / "wolfi" / "security.json"]:
        for entry in json.loads(path.read_text()).get("packages") or ():
            seen.update(version for version in entry["pkg"].get("secfixes") or {} if version != "0")
    assert len(seen) > 8_000
    rejected = set()
    for text in seen:
        try:
            assert str(versions.parse("apk", text)) == text
        except versions.InvalidVersion:
            rejected.add(text)
    assert rejected <= SECDB_TYPOS
