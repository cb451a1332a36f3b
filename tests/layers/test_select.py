"""Globs, predicates and path normalisation."""

from __future__ import annotations

import io
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.layers import PathSet, PathTooLong, Select, UnsafePath, executable, normalize, read_layer
from tests.layers.tarfactory import file, layer_ref, symlink, tar_bytes

REG = stat.S_IFREG | 0o644


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("/var/lib/dpkg/status", "/var/lib/dpkg/status", True),
        ("/var/lib/dpkg/status", "/var/lib/dpkg/status.d/x", False),
        ("/var/lib/dpkg/status", "/x/var/lib/dpkg/status", False),
        ("/usr/**/site-packages/*.dist-info/METADATA",
         "/usr/local/lib/python3.11/site-packages/Django-3.2.dist-info/METADATA", True),
        ("/usr/**/site-packages/*.dist-info/METADATA", "/usr/site-packages/a.dist-info/METADATA", True),
        ("/usr/**/site-packages/*.dist-info/METADATA", "/usr/lib/site-packages/a/b.dist-info/METADATA", False),
        ("/usr/**/site-packages/*.dist-info/METADATA", "/opt/usr/lib/site-packages/a.dist-info/METADATA", False),
        ("**/package.json", "/package.json", True),
        ("**/package.json", "/app/node_modules/lodash/package.json", True),
        ("**/package.json", "/app/package.json.bak", False),
        ("/etc/*-release", "/etc/os-release", True),
        ("/etc/*-release", "/etc/sub/os-release", False),
        ("/lib/apk/db/installed", "/lib/apk/db/installed", True),
        ("/a?c", "/abc", True),
        ("/a?c", "/a/c", False),
        ("/a.b", "/aXb", False),  # '.' is literal
        ("./etc//os-release", "/etc/os-release", True),
        ("/opt/**", "/opt/a/b/c", True),
    ],
)
def test_glob(glob, path, expected):
    assert Select([glob])(path, REG, 0) is expected


def test_predicates_see_mode_and_size():
    select = Select(predicates=[executable, lambda path, mode, size: size > 100])
    assert select("/usr/bin/app", stat.S_IFREG | 0o755, 10)
    assert not select("/usr/bin/app", stat.S_IFREG | 0o644, 10)
    assert select("/data", stat.S_IFREG | 0o644, 101)
    assert not select("/usr/bin/link", stat.S_IFLNK | 0o777, 0)


def test_reader_passes_normalised_paths_and_full_modes_to_predicates():
    seen = []
    select = Select(predicates=[lambda p, m, s: seen.append((p, m, s)) or executable(p, m, s)])
    blob = tar_bytes(
        file("./usr//bin/tool/", "ELF", mode=0o755), file("etc/conf", "x"), symlink("bin/t", "../usr/bin/tool")
    )
    contents = read_layer(layer_ref(1), io.BytesIO(blob), select)
    assert seen == [("/usr/bin/tool", stat.S_IFREG | 0o755, 3), ("/etc/conf", REG, 1),
                    ("/bin/t", stat.S_IFLNK | 0o777, 0)]
    assert list(contents.files) == ["/usr/bin/tool"]


@pytest.mark.parametrize("bad", ["/../x", "..", "a/../../x", "glob/.."])
def test_glob_with_dotdot_is_rejected(bad):
    with pytest.raises(ValueError, match=r"'\.\.' is not allowed"):
        Select([bad])


def test_selector_needs_something_to_select():
    with pytest.raises(ValueError, match="at least one"):
        Select()


@pytest.mark.parametrize(
    ("name", "normal"),
    [("./etc/os-release", "/etc/os-release"), ("usr/bin/", "/usr/bin"), ("/abs/path", "/abs/path"),
     ("a/./b//c", "/a/b/c"), ("a/b/../c", "/a/c"), ("./", "/"), ("", "/")],
)
def test_normalize(name, normal):
    assert normalize(name, 4096) == normal


@pytest.mark.parametrize("name", ["../etc/passwd", "/../etc/passwd", "a/../../b", "a\0b"])
def test_normalize_rejects_escapes_and_nul(name):
    with pytest.raises(UnsafePath):
        normalize(name, 4096)


def test_normalize_rejects_overlong():
    with pytest.raises(PathTooLong, match="4097 characters"):
        normalize("a" * 4097, 4096)


segment = st.text(st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)), min_size=1, max_size=8)


@settings(max_examples=200)
@given(st.lists(st.one_of(segment, st.sampled_from([".", "..", ""])), max_size=12))
def test_normalize_is_absolute_clean_and_idempotent(segments):
    name = "/".join(segments)
    try:
        normal = normalize(name, 4096)
    except UnsafePath:
        return
    assert normal.startswith("/")
    assert normal == "/" or not normal.endswith("/")
    assert not {".", "..", ""} & set(normal.split("/")[1:]) or normal == "/"
    assert normalize(normal, 4096) == normal


literal_segment = segment.filter(lambda s: s not in (".", "..") and "*" not in s and "?" not in s)


@settings(max_examples=200)
@given(st.lists(literal_segment, min_size=1, max_size=6))
def test_a_wildcard_free_glob_matches_exactly_that_path(segments):
    path = "/" + "/".join(segments)
    assert Select([path])(path, REG, 0)
    assert not Select([path])(path + "x", REG, 0)
    assert not Select([path])(path + "/x", REG, 0)
    assert Select(["/**"])(path, REG, 0)
    assert Select(["**/" + segments[-1]])(path, REG, 0)


@settings(max_examples=200)
@given(st.sets(st.text(min_size=1, max_size=30), max_size=40), st.text(min_size=1, max_size=30))
def test_pathset_membership_and_bytes_round_trip(paths, other):
    pathset = PathSet(paths)
    assert all(p in pathset for p in paths)
    assert (other in pathset) == (other in paths)
    assert PathSet.from_bytes(pathset.to_bytes()) == pathset


def test_pathset_from_bad_bytes_is_a_clear_error():
    with pytest.raises(ValueError, match="multiple of 8"):
        PathSet.from_bytes(b"123")
    with pytest.raises(ValueError, match="not strictly sorted"):
        PathSet.from_bytes((2).to_bytes(8, "little") + (1).to_bytes(8, "little"))
