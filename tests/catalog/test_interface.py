"""Glob semantics of `Cataloger.wants`: `**` spans whole segments (even none), `*` stays in one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.catalog.interface import glob_match

SEGMENT = st.text("abcXYZ._-0", min_size=1, max_size=6)


@pytest.mark.parametrize("pattern,path,expected", [
    ("/**/*.dist-info/METADATA", "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", True),
    ("/**/*.dist-info/METADATA", "/x.dist-info/METADATA", True),  # ** matches zero segments
    ("/**/*.dist-info/METADATA", "/usr/x.dist-info/sub/METADATA", False),
    ("/var/lib/dpkg/status.d/*", "/var/lib/dpkg/status.d/a/b", False),  # * stays within a segment
    ("/var/lib/dpkg/status", "/var/lib/dpkg/status-old", False),
    ("/**/node_modules/**/package.json", "/app/node_modules/@scope/pkg/package.json", True),
    ("/**/Cargo.lock", "Cargo.lock", False),  # image paths are absolute
    ("/a.b", "/aXb", False),  # regex metacharacters are literal
])
def test_glob_cases(pattern, path, expected):
    assert glob_match(pattern, path) is expected


def test_relative_glob_is_rejected():
    with pytest.raises(ValueError, match="absolute"):
        glob_match("**/x", "/x")


@settings(max_examples=200)
@given(st.lists(SEGMENT, max_size=5), SEGMENT)
def test_double_star_matches_any_depth(dirs, name):
    path = "/" + "/".join([*dirs, name + ".gemspec"])
    assert glob_match("/**/*.gemspec", path)
    assert glob_match("/**/" + name + ".gemspec", path)
    assert not glob_match("/**/*.gemspec", path + "x")
