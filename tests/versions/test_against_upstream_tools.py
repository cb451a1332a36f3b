"""Differential tests: our order against the real upstream implementations installed on the machine
(dpkg, rpm's rpm.vercmp, npm's node-semver, Go's x/mod/semver, Maven's maven-artifact, Ruby's
Gem::Version, composer/semver), on random
valid versions. One tool run checks a whole batch, so each test costs a few process starts."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan import versions
from tests.versions import strategies, upstream_tools
from tests.versions.test_upstream_fixtures import FIXTURES, normalized_cases, pair_cases

_batches = settings(max_examples=12, deadline=None)
needs_php_composer = pytest.mark.skipif(
    not (upstream_tools.have("php") and upstream_tools.COMPOSER_SEMVER.is_file()),
    reason="php or composer/semver missing",
)
needs_ruby = pytest.mark.skipif(not upstream_tools.have("ruby"), reason="ruby not installed")
needs_maven = pytest.mark.skipif(
    not (upstream_tools.have("java") and upstream_tools.MAVEN_ARTIFACT_JAR.is_file()),
    reason="java or maven-artifact missing",
)


def _pairs(strategy):
    return st.lists(st.tuples(strategy, strategy), min_size=40, max_size=40)


def _disagreements(scheme, pairs, theirs):
    assert len(theirs) == len(pairs), "the tool answered a different number of comparisons"
    return [
        f"{a!r} vs {b!r}: upstream {want}, ours {versions.compare(scheme, a, b)}"
        for (a, b), want in zip(pairs, theirs, strict=True)
        if versions.compare(scheme, a, b) != want
    ]


@pytest.mark.skipif(not upstream_tools.have("dpkg"), reason="dpkg not installed")
def test_deb_agrees_with_dpkg():
    @_batches
    @given(_pairs(strategies.deb))
    def check(pairs):
        assert not _disagreements("deb", pairs, upstream_tools.dpkg(pairs))

    check()


@pytest.mark.skipif(not upstream_tools.have("rpm"), reason="rpm not installed")
def test_rpm_agrees_with_rpm_vercmp(tmp_path):
    @_batches
    @given(_pairs(strategies.rpm))
    def check(pairs):
        assert not _disagreements("rpm", pairs, upstream_tools.rpm(pairs, tmp_path))

    check()


@pytest.mark.skipif(
    not (upstream_tools.have("node") and upstream_tools.NODE_SEMVER.is_dir()), reason="node or node-semver missing"
)
def test_semver_agrees_with_node_semver():
    @_batches
    @given(_pairs(strategies.semver))
    def check(pairs):
        assert not _disagreements("semver", pairs, upstream_tools.node_semver(pairs))

    check()


@pytest.fixture(scope="module")
def go_semver(tmp_path_factory):
    if not (upstream_tools.have("go") and upstream_tools.GO_VENDORED_SEMVER.is_file()):
        pytest.skip("go toolchain with vendored x/mod/semver not installed")
    return upstream_tools.build_go_semver(tmp_path_factory.mktemp("go-semver"))


def test_go_agrees_with_x_mod_semver(go_semver):
    with_v = strategies.go.map(lambda text: text if text.startswith("v") else "v" + text)  # x/mod requires it

    @_batches
    @given(_pairs(with_v))
    def check(pairs):
        assert not _disagreements("go", pairs, upstream_tools.go_semver(go_semver, pairs))

    check()


@needs_maven
def test_maven_agrees_with_comparable_version():
    @settings(max_examples=8, deadline=None)
    @given(st.lists(strategies.maven_consistent, min_size=60, max_size=60))
    def check(ordered):
        pairs = list(itertools.pairwise(ordered))
        assert not _disagreements("maven", pairs, upstream_tools.maven(ordered))

    check()


@needs_maven
def test_maven_where_comparable_version_is_cyclic_we_pick_the_documented_side():
    # A qualifier before a '.' is where Maven 3.8 contradicts itself, so no order can agree with it.
    cycle = ["1.0.alpha.2", "1.sp.2", "1", "1.0.alpha.2"]
    assert upstream_tools.maven(cycle) == [1, 1, 1]
    assert [versions.compare("maven", a, b) for a, b in itertools.pairwise(cycle)] == [-1, 1, 1]


@needs_ruby
def test_rubygems_agrees_with_gem_version():
    @_batches
    @given(_pairs(strategies.rubygems))
    def check(pairs):
        assert not _disagreements("rubygems", pairs, upstream_tools.rubygems(pairs))

    check()


@needs_php_composer
def test_composer_agrees_with_composer_semver(tmp_path):
    @_batches
    @given(_pairs(strategies.composer))
    def check(pairs):
        answers = upstream_tools.composer(pairs, tmp_path)
        ours = [tuple(versions.parse("composer", text).normalized for text in pair) for pair in pairs]
        assert ours == [(a, b) for a, b, _ in answers]
        assert not _disagreements("composer", pairs, [order for _, _, order in answers])

    check()


# The fixture tables replayed against the installed tools: the facts they hold are still what the tool says.

@needs_maven
def test_maven_fixture_pairs_are_what_comparable_version_says():
    cases = pair_cases(FIXTURES / "maven-3.8.7.tsv")
    assert upstream_tools.maven_pairs([(a, b) for a, b, _ in cases]) == [expected for _, _, expected in cases]


@needs_ruby
def test_rubygems_fixture_pairs_are_what_gem_version_says():
    cases = pair_cases(FIXTURES / "rubygems-gem-version.tsv")
    assert upstream_tools.rubygems([(a, b) for a, b, _ in cases]) == [expected for _, _, expected in cases]


@needs_php_composer
def test_composer_fixture_pairs_are_what_composer_semver_says(tmp_path):
    cases = pair_cases(FIXTURES / "composer-comparator.tsv")
    answers = upstream_tools.composer([(a, b) for a, b, _ in cases], tmp_path)
    assert [order for _, _, order in answers] == [expected for _, _, expected in cases]
    ours = [tuple(versions.parse("composer", text).normalized for text in (a, b)) for a, b, _ in cases]
    assert ours == [(a, b) for a, b, _ in answers]


@needs_php_composer
def test_composer_normalizes_like_composer_semver_where_debian_has_the_rule(tmp_path):
    # Debian's composer/semver 3.3 predates the CalVer rules of the fixture's source (it rejects
    # 20230131.0.0); everything it does normalize must come out the same.
    cases = normalized_cases(FIXTURES / "composer-normalized.tsv")
    answers = upstream_tools.composer([(text, text) for text, _ in cases], tmp_path)
    differing = [(text, theirs) for (text, _), (theirs, _, _) in zip(cases, answers, strict=True)
                 if theirs is not None and versions.parse("composer", text).normalized != theirs]
    assert not differing
    assert sum(theirs is not None for theirs, _, _ in answers) >= len(cases) - 5
