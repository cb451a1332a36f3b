"""Hypothesis strategies producing valid versions of each scheme, dense in the interesting corners
(equal-comparing spellings, pre-release markers, padding) so that comparisons often tie or nearly tie."""

from __future__ import annotations

from hypothesis import strategies as st

_small = st.integers(0, 12).map(str)
_number = st.one_of(_small, st.integers(0, 10**12).map(str))


def _joined(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


def _optional(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), strategy)


def _dotted(part: st.SearchStrategy[str], min_size: int = 1, max_size: int = 4) -> st.SearchStrategy[str]:
    return st.lists(part, min_size=min_size, max_size=max_size).map(".".join)


_deb_chars = st.sampled_from(list("0123456789~+.ab") + ["~~", "rc", "dfsg", "0"])
deb = _joined(
    _optional(st.integers(0, 3).map(lambda e: f"{e}:")),
    _small,
    st.lists(_deb_chars, max_size=4).map("".join),
    _optional(_joined(st.just("-"), st.lists(_deb_chars, min_size=1, max_size=4).map("".join))),
)

_rpm_segment = st.sampled_from(["0", "1", "2", "10", "01", "a", "b", "rc", "git", "~", "^", ".", "_", "+"])
rpm = _joined(
    _optional(st.integers(0, 3).map(lambda e: f"{e}:")),
    st.lists(_rpm_segment, min_size=1, max_size=6).map("".join),
    _optional(_joined(st.just("-"), st.lists(_rpm_segment, min_size=1, max_size=4).map("".join))),
)

apk = _joined(
    _small,
    st.lists(_joined(st.just("."), st.sampled_from(["0", "1", "2", "01", "10"])), max_size=3).map("".join),
    _optional(st.sampled_from(list("abz"))),
    st.lists(
        _joined(
            st.sampled_from(["_alpha", "_beta", "_pre", "_rc", "_cvs", "_svn", "_git", "_hg", "_p"]), _optional(_small)
        ),
        max_size=2,
    ).map("".join),
    _optional(st.sampled_from(["~0", "~abc1", "~ff"])),
    _optional(_small.map(lambda r: f"-r{r}")),
)

_pep440 = _joined(
    _optional(st.integers(0, 2).map(lambda e: f"{e}!")),
    _dotted(_small, max_size=4),
    _optional(_joined(st.sampled_from(["a", "b", "rc", "c", "alpha", "-beta", ".pre"]), _optional(_small))),
    _optional(_joined(st.sampled_from([".post", "-post", "-"]), _small)),
    _optional(_joined(st.sampled_from([".dev", "dev"]), _optional(_small))),
    _optional(_joined(st.just("+"), _dotted(st.sampled_from(["0", "1", "abc", "ubuntu", "09"]), max_size=3))),
)
# Legacy (non-PEP 440) versions as PyPI carries them: pieces of real ones, glued with the separators
# setuptools' old parser split on.
_legacy_piece = st.sampled_from(
    ["0", "1", "2", "00", "10", "3m1", "p1", "final", "pre", "rc", "dev", "SNAPSHOT", "svn", "r2010", "fix1", "trunk",
     "a", "b", "c", "doduo", "T20", "+0100", "git", "@", "preview"]
)
_legacy = _joined(
    _small,
    st.lists(_joined(st.sampled_from([".", "-", "", "_"]), _legacy_piece), min_size=1, max_size=5).map("".join),
)
pypi = st.one_of(_pep440, _legacy)

_prerelease_id = st.sampled_from(["0", "1", "2", "11", "alpha", "beta", "rc", "a1", "1a", "-", "x-y", "A", "Z"])
_core = _joined(_small, st.just("."), _small, st.just("."), _small)
semver = _joined(
    _core,
    _optional(_joined(st.just("-"), _dotted(_prerelease_id))),
    _optional(_joined(st.just("+"), _dotted(st.sampled_from(["build", "1", "001", "sha-1"])))),
)

_pseudo = st.sampled_from(
    ["20191109021931-daa7c04131f5", "0.20191109021931-daa7c04131f5", "20200101000000-000000000000"]
)
go = st.one_of(
    _joined(st.just("v"), _small),
    _joined(_optional(st.just("v")), _small, st.just("."), _small),
    _joined(
        _optional(st.just("v")),
        _core,
        _optional(_joined(st.just("-"), st.one_of(_dotted(_prerelease_id), _pseudo))),
        _optional(st.sampled_from(["+incompatible", "+meta"])),
    ),
)

_maven_token = st.sampled_from(
    ["0", "1", "2", "10", "00", "alpha", "a", "beta", "b", "m", "milestone", "rc", "cr", "snapshot", "ga", "final",
     "release", "sp", "foo", "x", "RC", "Final", "SNAPSHOT"]
)
maven = _joined(
    _small,
    st.lists(_joined(st.sampled_from([".", "-", ""]), _maven_token), max_size=5).map("".join),
)

# The part of Maven's grammar where ComparableVersion is a consistent order: qualifiers only at the
# end or before '-' / a digit, never before a '.' (there Maven 3.8 contradicts itself, see maven.py).
_maven_qualifier = _maven_token.filter(lambda token: not token.isdigit())
maven_consistent = _joined(
    _dotted(_small, max_size=3),
    st.lists(
        _joined(
            st.sampled_from(["-", ""]),
            st.one_of(_maven_qualifier, _dotted(st.sampled_from(["0", "1", "2", "10"]), max_size=2)),
        ),
        max_size=3,
    ).map("".join),
)

rubygems = _joined(
    _small,
    st.lists(
        _joined(st.just("."), st.sampled_from(["0", "1", "2", "10", "a", "b", "pre", "rc1", "Z", "a9"])), max_size=5
    ).map("".join),
    _optional(_joined(st.just("-"), _dotted(st.sampled_from(["1", "0", "beta", "rc", "x-y"]), max_size=2))),
)

nuget = _joined(
    _dotted(st.sampled_from(["0", "1", "2", "01", "10"]), max_size=4),
    _optional(_joined(
        st.just("-"), _dotted(st.sampled_from(["0", "1", "0a", "beta", "BETA", "rc-1", "Alpha", "x", "-1"]))
    )),
    _optional(_joined(st.just("+"), _dotted(st.sampled_from(["meta", "AA", "1"])))),
)

composer = st.one_of(
    _joined(
        _optional(st.just("v")),
        _dotted(_small, max_size=4),
        _optional(_joined(
            st.sampled_from(["-", ".", "", "_"]),
            st.sampled_from(["alpha", "a", "beta", "b", "RC", "rc", "patch", "pl", "p", "stable"]),
            _optional(_joined(st.sampled_from(["", ".", "-"]), _small)),
        )),
        _optional(st.sampled_from(["-dev", ".dev", "dev"])),
    ),
    _joined(_dotted(st.sampled_from(["0", "1", "2"]), max_size=3), st.sampled_from([".x-dev", ".*-dev", "-dev"])),
)

BY_SCHEME = {
    "deb": deb,
    "rpm": rpm,
    "apk": apk,
    "pypi": pypi,
    "semver": semver,
    "go": go,
    "maven": maven,
    "rubygems": rubygems,
    "nuget": nuget,
    "composer": composer,
}
