"""Facts from upstream test suites and docs, for the schemes the shared data has no vectors for.

Each table cites where it comes from; the tables are copied, not derived from our implementation.
"""

from __future__ import annotations

import itertools

import pytest

from crscan import versions


def _assert_ascending(scheme: str, ordered: list[str]) -> None:
    failures = [
        f"{low!r} !< {high!r}"
        for low, high in itertools.combinations(ordered, 2)
        if (versions.compare(scheme, low, high), versions.compare(scheme, high, low)) != (-1, 1)
    ]
    assert not failures, "\n".join(failures)


def _assert_equal(scheme: str, pairs: list[tuple[str, str]]) -> None:
    failures = [f"{a!r} != {b!r}" for a, b in pairs if versions.compare(scheme, a, b) != 0]
    assert not failures, "\n".join(failures)
    for a, b in pairs:
        assert hash(versions.parse(scheme, a)) == hash(versions.parse(scheme, b))


# --- Maven: apache/maven maven-artifact/src/test/java/org/apache/maven/artifact/versioning/
#     ComparableVersionTest.java of the 3.8 line (VERSIONS_QUALIFIER, VERSIONS_NUMBER with "2.0.a" below
#     "2-1" as after MNG-7644, testVersionsEqual, testVersionComparing, testMng5568, testMng6572,
#     testVersionEqualWithLeadingZeroes, testMng6964). Ordered lists hold for every pair i < j.
MAVEN_QUALIFIER_ORDER = [
    "1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2", "1-m11", "1-rc", "1-cr2",
    "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc", "1-def", "1-pom-1", "1-1-snapshot",
    "1-1", "1-2", "1-123",
]
MAVEN_NUMBER_ORDER = [
    "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1", "2.1.0.1", "2.2",
    "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m",
]
MAVEN_EQUAL = [
    ("1", "1"), ("1", "1.0"), ("1", "1.0.0"), ("1.0", "1.0.0"), ("1", "1-0"), ("1", "1.0-0"), ("1.0", "1.0-0"),
    ("1a", "1-a"), ("1a", "1.0-a"), ("1a", "1.0.0-a"), ("1.0a", "1-a"), ("1.0.0a", "1-a"),
    ("1x", "1-x"), ("1x", "1.0-x"), ("1x", "1.0.0-x"), ("1.0x", "1-x"), ("1.0.0x", "1-x"),
    ("1ga", "1"), ("1release", "1"), ("1final", "1"), ("1cr", "1rc"),
    ("1a1", "1-alpha-1"), ("1b2", "1-beta-2"), ("1m3", "1-milestone-3"),
    ("1X", "1x"), ("1A", "1a"), ("1B", "1b"), ("1M", "1m"), ("1Ga", "1"), ("1GA", "1"), ("1RELEASE", "1"),
    ("1release", "1"), ("1RELeaSE", "1"), ("1Final", "1"), ("1FinaL", "1"), ("1FINAL", "1"), ("1Cr", "1Rc"),
    ("1cR", "1rC"), ("1m3", "1Milestone3"), ("1m3", "1MileStone3"), ("1m3", "1MILESTONE3"),
    ("1-abcdefghijklmnopqrstuvwxyz", "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    *(("1", "0" * zeros + "1") for zeros in range(1, 19)),
    *(("0", "0" * zeros) for zeros in range(2, 20)),
]
MAVEN_LESS = [
    ("1", "2"), ("1.5", "2"), ("1", "2.5"), ("1.0", "1.1"), ("1.1", "1.2"), ("1.0.0", "1.1"), ("1.0.1", "1.1"),
    ("1.1", "1.2.0"), ("1.0-alpha-1", "1.0"), ("1.0-alpha-1", "1.0-alpha-2"), ("1.0-alpha-1", "1.0-beta-1"),
    ("1.0-beta-1", "1.0-SNAPSHOT"), ("1.0-SNAPSHOT", "1.0"), ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"),
    ("1.0", "1.0-1"), ("1.0-1", "1.0-2"), ("1.0.0", "1.0-1"), ("2.0-1", "2.0.1"), ("2.0.1-klm", "2.0.1-lmn"),
    ("2.0.1", "2.0.1-xyz"), ("2.0.1", "2.0.1-123"), ("2.0.1-xyz", "2.0.1-123"),
    ("6.1.0rc3", "6.1.0"), ("6.1.0rc3", "6.1H.5-beta"), ("6.1.0", "6.1H.5-beta"),
    ("20190126.230843", "1234567890.12345"), ("1234567890.12345", "123456789012345.1H.5-beta"),
    ("123456789012345.1H.5-beta", "12345678901234567890.1H.5-beta"),
    ("1-0.alpha", "1"), ("1-0.beta", "1"), ("1-0.alpha", "1-0.beta"),
]


@pytest.mark.parametrize("ordered", [MAVEN_QUALIFIER_ORDER, MAVEN_NUMBER_ORDER], ids=["qualifiers", "numbers"])
def test_maven_comparable_version_orders(ordered):
    _assert_ascending("maven", ordered)


def test_maven_equal_versions():
    _assert_equal("maven", MAVEN_EQUAL)


@pytest.mark.parametrize(("lower", "higher"), MAVEN_LESS)
def test_maven_version_comparing(lower, higher):
    _assert_ascending("maven", [lower, higher])


def test_maven_dotted_release_candidate_is_before_its_release():
    # Spring-style qualifiers after a dot: ComparableVersion compares "1.0.0.RC1" as [1, 0, 0, rc, [1]]
    # against [1], the zeros equal to the padding, so rc decides (documented qualifier order).
    _assert_ascending("maven", ["1.0.0.M1", "1.0.0.RC1", "1.0.0.RELEASE".replace("RELEASE", "Final"), "1.0.1"])


# --- RubyGems: rubygems test/rubygems/test_gem_version.rb (test_spaceship, test_semver,
#     test_equals2, test_hash, test_initialize, test_canonical_segments, test_frozen_version).
RUBYGEMS_COMPARISONS = [
    ("1.0", "1.0.0", 0), ("1.0", "1.0.a", 1), ("1.8.2", "0.0.0", 1), ("1.8.2", "1.8.2.a", 1),
    ("1.8.2.b", "1.8.2.a", 1), ("1.8.2.a", "1.8.2", -1), ("1.8.2.a10", "1.8.2.a9", 1), ("", "0", 0),
    ("0.beta.1", "0.0.beta.1", 0), ("0.0.beta", "0.0.beta.1", -1), ("0.0.beta", "0.beta.1", -1),
    ("5.a", "5.0.0.rc2", -1), ("5.x", "5.0.0.rc2", 1),
    ("1.9.3", "1.9.3", 0), ("1.9.3", "1.9.2.99", 1), ("1.9.3", "1.9.3.1", -1),
    ("1.0.0-alpha", "1.0.0-alpha.1", -1), ("1.0.0-alpha.1", "1.0.0-beta.2", -1),
    ("1.0.0-beta.2", "1.0.0-beta.11", -1), ("1.0.0-beta.11", "1.0.0-rc.1", -1), ("1.0.0-rc1", "1.0.0", -1),
    ("1.0.0-1", "1", -1), ("1.2.b1", "1.2.b.1", 0), ("1.2", "1.3", -1), ("1.2", "1.2.0", 0),
    ("1.2.pre.1", "1.2.0.pre.1.0", 0), ("1.0 ", "1.0", 0), (" 1.0 ", "1.0", 0), ("\n1.0\n", "1.0", 0),
    ("1.0.0.a.1.0", "1.a.1", 0), ("1.freeze.test", "1", -1), ("1.0.0", "0.0.1.20220404083012", 1),
    ("0.7.0", "0.6.63000", 1), ("18.0.1", "18.0.2", -1),
]
RUBYGEMS_INVALID = ["junk", "1.0\n2.0", "1..2", "1.2 3.4", "2.3422222.222.222222222.22222.ads0as.dasd0.ddd2222.2.qd3e."]


@pytest.mark.parametrize(("a", "b", "expected"), RUBYGEMS_COMPARISONS)
def test_rubygems_spaceship(a, b, expected):
    assert (versions.compare("rubygems", a, b), versions.compare("rubygems", b, a)) == (expected, -expected)


@pytest.mark.parametrize("text", RUBYGEMS_INVALID)
def test_rubygems_malformed(text):
    with pytest.raises(versions.InvalidVersion, match="not a gem version"):
        versions.parse("rubygems", text)


@pytest.mark.parametrize(
    ("text", "prerelease"),
    [("1.2.0.a", True), ("2.9.b", True), ("22.1.50.0.d", True), ("1.2.d.42", True), ("1.A", True), ("1-1", True),
     ("1-a", True), ("1.2.0", False), ("2.9", False), ("22.1.50.0", False)],
)
def test_rubygems_prerelease(text, prerelease):
    assert versions.parse("rubygems", text).is_prerelease is prerelease


@pytest.mark.parametrize(
    ("text", "canonical"),
    # test_gem_version.rb test_canonical_segments
    [("1.0.0", (1,)), ("1.0.0.a.1.0", (1, "a", 1)), ("1.2.3-1", (1, 2, 3, "pre", 1))],
)
def test_rubygems_canonical_segments(text, canonical):
    assert versions.parse("rubygems", text).canonical_segments == canonical


# --- NuGet: NuGet/NuGet.Client test/NuGet.Core.Tests/NuGet.Versioning.Test/VersionComparerTests.cs
#     (VersionComparisonDefaultEqual/Less) and NuGetVersionTest.cs (SemVerEqualsOperatorWorks,
#     SemVerLessThanAndGreaterThanOperatorsWorks, ParseThrowsIfStringIsNotAValidSemVer).
NUGET_EQUAL = [
    ("1.0.0", "1.0.0"), ("1.0.0-BETA", "1.0.0-beta"), ("1.0.0-BETA+AA", "1.0.0-beta+aa"),
    ("1.0.0-BETA.X.y.5.77.0+AA", "1.0.0-beta.x.y.5.77.0+aa"),
    ("1.0", "1.0.0.0"), ("1.23.01", "1.23.1"), ("1.45.6", "1.45.6.0"), ("1.45.6-Alpha", "1.45.6-Alpha"),
    ("1.6.2-BeTa", "1.6.02-beta"), ("22.3.07     ", "22.3.07"),
]
NUGET_LESS = [
    ("0.0.0", "1.0.0"), ("1.0.0", "1.1.0"), ("1.0.0", "1.0.1"), ("1.999.9999", "2.1.1"), ("1.0.0-BETA", "1.0.0-beta2"),
    ("1.0.0-beta+AA", "1.0.0+aa"), ("1.0.0-BETA", "1.0.0-beta.1+AA"),
    ("1.0.0-BETA.X.y.5.77.0+AA", "1.0.0-beta.x.y.5.79.0+aa"),
    ("1.0.0-BETA.X.y.5.79.0+AA", "1.0.0-beta.x.y.5.790.0+abc"),
    ("1.0", "1.0.1"), ("1.23", "1.231"), ("1.4.5.6", "1.45.6"), ("1.4.5.6", "1.4.5.60"), ("1.01", "1.10"),
    ("1.01-alpha", "1.10-beta"), ("1.01.0-RC-1", "1.10.0-rc-2"), ("1.01-RC-1", "1.01"), ("1.01", "1.2-preview"),
]
NUGET_INVALID = [
    "1beta", "$version$", "1.2Av^c", "1.2..", "1.2.3.4.5", "1.2.3.Beta", "1.2.3.4This version is full of awesomeness!!",
    "So.is.this", "1.34.2Alpha", "1.34.2Release Candidate", "1.4.7-", "1.4.7-*", "1.4.7+*", "1.4.7-AA.01^",
    "1.4.7-AA.0A^", "1.4.7-A^A", "1.4.7+AA.01^", "",
    # NuGetVersionFactory.TryParse: numeric labels with a leading zero (IsValidPart, allowLeadingZeros: false).
    "1.0.0-beta.01", "1.0.0-00",
]


def test_nuget_equal_versions():
    _assert_equal("nuget", NUGET_EQUAL)


@pytest.mark.parametrize(("lower", "higher"), NUGET_LESS)
def test_nuget_less(lower, higher):
    _assert_ascending("nuget", [lower, higher])


@pytest.mark.parametrize("text", NUGET_INVALID)
def test_nuget_invalid(text):
    with pytest.raises(versions.InvalidVersion):
        versions.parse("nuget", text)


@pytest.mark.parametrize(
    ("text", "normalized"),
    # NuGetVersionTest.ToStringReturnsNormalizedForSemVer2 (ToFullString) and StringConstructorParsesValuesCorrectly
    [("1.0+A", "1.0.0+A"), ("1.0-1.1", "1.0.0-1.1"), ("1.0-1.1+B.B", "1.0.0-1.1+B.B"),
     ("1.0.0009.01-1.1+A", "1.0.9.1-1.1+A"), ("3.4.0.3-RC-3", "3.4.0.3-RC-3")],
)
def test_nuget_normalized_string(text, normalized):
    assert str(versions.parse("nuget", text)) == normalized


# --- Composer: composer/semver tests/VersionParserTest.php (successfulNormalizedVersions for the
#     numbered forms, failingNormalizedVersions) and PHP's version_compare() manual page: "dev" <
#     "alpha" = "a" < "beta" = "b" < "RC" = "rc" < "#" (a number) < "pl" = "p".
COMPOSER_NORMALIZED = [
    ("1.0.0", "1.0.0.0"), ("1.2.3.4", "1.2.3.4"), ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
    ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"), ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"), ("1.0.0-rc1", "1.0.0.0-RC1"),
    ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"), ("1.0-dev", "1.0.0.0-dev"), ("0", "0.0.0.0"),
    ("10.4.13-beta", "10.4.13.0-beta"), ("10.4.13beta2", "10.4.13.0-beta2"), ("10.4.13beta.2", "10.4.13.0-beta2"),
    ("10.4.13-b", "10.4.13.0-beta"), ("10.4.13-b5", "10.4.13.0-beta5"), ("v1.0.0", "1.0.0.0"),
    ("2010.01", "2010.01.0.0"), ("2010.01.02", "2010.01.02.0"), ("2010.1.555", "2010.1.555.0"),
    ("2010.10.200", "2010.10.200.0"), ("v20100102", "20100102"), ("2010-01-02", "2010.01.02"),
    ("2010-01-02.5", "2010.01.02.5"), ("20100102-203040", "20100102.203040"), ("20150920.0.0", "20150920.0.0"),
    ("20100102203040-10", "20100102203040.10"), ("20100102-203040-p1", "20100102.203040-patch1"),
    ("1.x-dev", "1.9999999.9999999.9999999-dev"), ("1.0.0-beta.5+foo", "1.0.0.0-beta5"), ("1.0.0+foo", "1.0.0.0"),
    ("1.0.0-alpha.3.1+foo", "1.0.0.0-alpha3.1"), ("1.0.0-alpha2.1+foo", "1.0.0.0-alpha2.1"),
    ("1.0.0-alpha-2.1-3+foo", "1.0.0.0-alpha2.1-3"),
]
COMPOSER_INVALID = ["", "a", "1.0.0-meh", "1.0.0.0.0", "feature-foo", "1.0.0+foo bar"]


@pytest.mark.parametrize(("text", "normalized"), COMPOSER_NORMALIZED)
def test_composer_normalize(text, normalized):
    assert versions.parse("composer", text).normalized == normalized


@pytest.mark.parametrize("text", COMPOSER_INVALID)
def test_composer_invalid(text):
    with pytest.raises(versions.InvalidVersion, match="not a Composer version"):
        versions.parse("composer", text)


def test_composer_named_branch_has_no_order():
    with pytest.raises(versions.InvalidVersion, match="dev branch"):
        versions.parse("composer", "dev-main")


def test_composer_stability_order():
    _assert_ascending(
        "composer",
        ["1.0.0-dev", "1.0.0-alpha1", "1.0.0-beta", "1.0.0-beta2-dev", "1.0.0-b2", "1.0.0-RC1", "1.0.0",
         "1.0.0-p1", "1.0.0-patch2", "1.0.1", "1.1"],
    )
    _assert_equal("composer", [("1.0", "1.0.0.0"), ("v1.0.0-stable", "1.0"), ("1.0.0-RC1", "1.0.0.rc1"),
                               ("1.0.0-pl1", "1.0.0-patch1"), ("1.0.0+build", "1.0.0")])


# --- Go: golang/mod semver/semver_test.go. `tests` is in ascending order; entries with the same
#     canonical form compare equal (TestCompare), the ones without one are invalid (TestIsValid).
GO_ORDERED = [
    ("v1.0.0-alpha", "v1.0.0-alpha"), ("v1.0.0-alpha.1", "v1.0.0-alpha.1"), ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"),
    ("v1.0.0-beta", "v1.0.0-beta"), ("v1.0.0-beta.2", "v1.0.0-beta.2"), ("v1.0.0-beta.11", "v1.0.0-beta.11"),
    ("v1.0.0-rc.1", "v1.0.0-rc.1"), ("v1", "v1.0.0"), ("v1.0", "v1.0.0"), ("v1.0.0", "v1.0.0"), ("v1.2", "v1.2.0"),
    ("v1.2.0", "v1.2.0"), ("v1.2.3-456", "v1.2.3-456"), ("v1.2.3-456.789", "v1.2.3-456.789"),
    ("v1.2.3-456-789", "v1.2.3-456-789"), ("v1.2.3-456a", "v1.2.3-456a"), ("v1.2.3-pre", "v1.2.3-pre"),
    ("v1.2.3-pre+meta", "v1.2.3-pre"), ("v1.2.3-pre.1", "v1.2.3-pre.1"), ("v1.2.3-zzz", "v1.2.3-zzz"),
    ("v1.2.3", "v1.2.3"), ("v1.2.3+meta", "v1.2.3"), ("v1.2.3+meta-pre", "v1.2.3"),
    ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
]
GO_INVALID = [
    "bad", "v1-alpha.beta.gamma", "v1-pre", "v1+meta", "v1-pre+meta", "v1.2-pre", "v1.2+meta", "v1.2-pre+meta",
]


def test_go_compare_follows_the_semver_test_table():
    failures = []
    for (i, (a, canonical_a)), (j, (b, canonical_b)) in itertools.product(enumerate(GO_ORDERED), repeat=2):
        want = 0 if canonical_a == canonical_b else (-1 if i < j else 1)
        if versions.compare("go", a, b) != want:
            failures.append(f"{a!r} vs {b!r}: want {want}")
    assert not failures, "\n".join(failures)
    # The same file's extra pairs; ("v1.19", "v1.2", -1) in the indexed copy is left out: x/mod's
    # compareInt (and the x/mod in Go's own tree) says v1.19 > v1.2.
    for a, b, want in [("v1", "v1", 0), ("v2", "v1", 1), ("v1", "v2", -1)]:
        assert versions.compare("go", a, b) == want


@pytest.mark.parametrize(("text", "canonical"), GO_ORDERED)
def test_go_canonical(text, canonical):
    assert versions.parse("go", text).canonical == canonical


@pytest.mark.parametrize("text", GO_INVALID)
def test_go_invalid(text):
    with pytest.raises(versions.InvalidVersion):
        versions.parse("go", text)


def test_go_pseudo_versions_and_incompatible():
    # go.dev/ref/mod#pseudo-versions: the three pseudo-version forms sort as pre-releases, after the
    # base version's pre-releases and before the next release; +incompatible is build metadata.
    _assert_ascending("go", [
        "v0.0.0-20191109021931-daa7c04131f5", "v0.0.1", "v1.2.3-pre", "v1.2.3-pre.0.20191109021931-daa7c04131f5",
        "v1.2.3", "v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4",
    ])
    assert versions.parse("go", "v0.0.0-20191109021931-daa7c04131f5").is_pseudo
    assert versions.parse("go", "v1.2.4-0.20191109021931-daa7c04131f5").is_pseudo
    assert not versions.parse("go", "v1.2.4-rc.1").is_pseudo
    _assert_equal("go", [("v2.0.0+incompatible", "v2.0.0"), ("2.0.0", "v2.0.0"), ("0", "v0.0.0")])
    assert str(versions.parse("go", "2.0.0+incompatible")) == "v2.0.0+incompatible"


# rpm 4.18's rpm.vercmp (Debian's rpm, Lua `rpm.vercmp`): a missing release sorts below any release, even an
# empty one or "~"; found by test_rpm_agrees_with_rpm_vercmp.
@pytest.mark.parametrize("a,b,expected", [
    ("0", "0-~", -1), ("0", "0-1", -1), ("1.0", "1.0-0", -1), ("1.0-~", "1.0", 1), ("1.0", "1.0-", -1),
    ("0-~", "0-", -1), ("1:1.0", "1:1.0-0", -1),
])
def test_rpm_missing_release_sorts_lowest(a, b, expected):
    assert versions.compare("rpm", a, b) == expected
