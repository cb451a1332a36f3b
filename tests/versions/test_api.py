"""The package's entry points: scheme lookup, ecosystem mapping, caching, and errors on bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan import versions
from crscan.model import Ecosystem
from crscan.versions.interface import MAX_VERSION_LENGTH


def test_every_ecosystem_has_a_scheme():
    for ecosystem in Ecosystem:
        assert versions.scheme_for(ecosystem) in versions.SCHEMES
    assert versions.scheme_for(Ecosystem.DPKG) == "deb"
    assert versions.scheme_for("pip") == "pypi"
    assert versions.scheme_for(Ecosystem.CARGO) == versions.scheme_for(Ecosystem.NPM) == "semver"
    assert versions.scheme_for("gomod") == "go"


def test_unknown_ecosystem_is_named():
    with pytest.raises(ValueError, match="unknown ecosystem 'conda'"):
        versions.scheme_for("conda")


@pytest.mark.parametrize("call", [lambda: versions.compare("debian", "1", "2"), lambda: versions.parse("debian", "1")])
def test_unknown_scheme_is_named(call):
    with pytest.raises(ValueError, match="unknown version scheme 'debian'; known: deb, rpm"):
        call()


def test_unhashable_scheme_is_a_value_error():
    with pytest.raises(ValueError, match="unknown version scheme"):
        versions.compare(["deb"], "1", "2")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [["1.0"], {"1": 0}])
def test_unhashable_version_is_an_invalid_version(bad):
    with pytest.raises(versions.InvalidVersion, match="deb version must be a string, not"):
        versions.compare("deb", "1.0", bad)
    with pytest.raises(versions.InvalidVersion, match="deb version must be a string, not"):
        versions.parse("deb", bad)


def test_invalid_version_is_a_value_error_naming_string_and_scheme():
    with pytest.raises(versions.InvalidVersion, match=r"invalid deb version '1\.0 beta'") as caught:
        versions.compare("deb", "1.0", "1.0 beta")
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("scheme", "text", "problem"),
    [
        ("deb", "", "empty"),
        ("deb", "a:1.0", "epoch 'a' is not a number"),
        ("deb", "99999999999:1", "epoch 99999999999 is larger"),
        ("deb", "1.0-1_2", "revision '1_2' has a character"),
        ("rpm", "1.0 1", "whitespace"),
        ("rpm", "x:1", "epoch 'x'"),
        ("rpm", "-1", "no version before the release"),
        ("apk", "1.0-r", "unexpected '-r'"),
        ("apk", "1.0_foo", "unknown suffix '_foo'"),
        ("pypi", " ", "empty"),
        ("semver", "1.02.3", "leading zeros"),
        ("semver", "1.2", "MAJOR.MINOR.PATCH"),
        ("go", "v1.2-pre", "not a Go module version"),
        ("maven", "", "empty"),
        ("maven", "1.0 final", "whitespace"),
        ("rubygems", "1..2", "not a gem version"),
        ("nuget", "1.0.0.0.0", "MAJOR[.MINOR"),
        ("nuget", "1.99999999999", "larger than 2147483647"),
        ("composer", "dev-main", "dev branch"),
    ],
)
def test_bad_versions_name_the_problem(scheme, text, problem):
    with pytest.raises(versions.InvalidVersion, match=problem.replace(".", r"\.").replace("[", r"\[")):
        versions.parse(scheme, text)


@pytest.mark.parametrize("scheme", sorted(versions.SCHEMES))
def test_non_string_and_overlong_input_is_rejected(scheme):
    with pytest.raises(versions.InvalidVersion, match="must be a string, not int"):
        versions.parse(scheme, 1)  # type: ignore[arg-type]
    with pytest.raises(versions.InvalidVersion, match="must be a string, not NoneType"):
        versions.compare(scheme, None, "1")  # type: ignore[arg-type]
    with pytest.raises(versions.InvalidVersion, match=f"longer than {MAX_VERSION_LENGTH}"):
        versions.compare(scheme, "1." * 10_000 + "1", "1")


@pytest.mark.parametrize("scheme", sorted(versions.SCHEMES))
def test_arbitrary_text_parses_or_raises_invalid_version(scheme):
    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=40) | st.text(alphabet="0123456789.-_~^+:abrcvpx ", max_size=30))
    def check(text):
        try:
            parsed = versions.parse(scheme, text)
        except versions.InvalidVersion:
            return
        assert versions.compare(scheme, text, str(parsed)) == 0

    check()


def test_versions_of_different_schemes_do_not_compare():
    deb, rpm = versions.parse("deb", "1.0"), versions.parse("rpm", "1.0")
    assert deb != rpm
    with pytest.raises(TypeError):
        deb < rpm  # noqa: B015


def test_parse_is_cached():
    assert versions.parse("maven", "1.0-SNAPSHOT") is versions.parse("maven", "1.0-SNAPSHOT")


def test_pypi_str_is_the_normalized_form():
    assert str(versions.parse("pypi", "1.0-Alpha-1")) == "1.0a1"
    assert versions.parse("pypi", "1.0rc1").is_prerelease


def test_pypi_legacy_versions_keep_their_text_and_sort_below_pep440():
    # packaging 21.3 tests/test_version.py: test_legacy_version_str_repr, test_legacy_version_is_prerelease,
    # test_compare_legacyversion_version (LegacyVersion("1") < Version("0")).
    for text in ["foobar", "a cat is fine too", "lolwut", "1.0-SNAPSHOT", "2.0.0-final"]:
        legacy = versions.parse("pypi", text)
        assert (str(legacy), legacy.is_legacy, legacy.is_prerelease) == (text, True, False)
    assert not versions.parse("pypi", "1.0").is_legacy
    assert versions.compare("pypi", "1-1-1", "0") == -1  # a legacy "1-1-1" sorts below PEP 440's lowest
    assert versions.compare("pypi", "2019-09-12", "0") == -1
