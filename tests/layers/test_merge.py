"""Whiteouts, opaque directories, links and layer attribution across generated layers."""

from __future__ import annotations

import io

import pytest

from crscan.layers import (
    LayerShadow,
    Limits,
    LinkEscapesRoot,
    LinkLoop,
    LinkTooDeep,
    Select,
    merge,
    read_image,
    read_layer,
)
from tests.layers.tarfactory import (
    compress,
    directory,
    file,
    hardlink,
    layer_ref,
    opaque,
    symlink,
    tar_bytes,
    whiteout,
)

EVERYTHING = Select(["/**"])
COMPRESSIONS = ["tar", "gzip", "zstd"]


def image(*layers, select=EVERYTHING, compression="gzip", limits=None):
    """Read and merge layers given as entry lists, bottom first; layer i is `layer_ref(i)`."""
    return read_image(
        ((layer_ref(i), io.BytesIO(compress(tar_bytes(*entries), compression))) for i, entries in enumerate(layers)),
        select,
        limits,
    )


def contents(files):
    return {path: f.data for path, f in files.items()}


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_whiteout_deletes_a_lower_file_and_only_that_file(compression):
    files = image(
        [directory("etc"), file("etc/keep", "k"), file("etc/gone", "g")],
        [whiteout("etc/gone")],
        compression=compression,
    )
    assert contents(files) == {"/etc/keep": b"k"}
    assert files["/etc/keep"].layer == layer_ref(0)


def test_whiteout_of_a_directory_deletes_everything_beneath_it():
    files = image(
        [file("opt/app/lib/a.py", "a"), file("opt/app/b.py", "b"), file("opt/application", "not under app")],
        [whiteout("opt/app")],
    )
    assert contents(files) == {"/opt/application": b"not under app"}


def test_opaque_directory_hides_lower_contents_but_keeps_its_own_and_siblings():
    files = image(
        [file("srv/old/1", "1"), file("srv/old/sub/2", "2"), file("srv/sibling", "s")],
        [opaque("srv/old"), file("srv/old/new", "n")],
    )
    assert contents(files) == {"/srv/old/new": b"n", "/srv/sibling": b"s"}
    assert files["/srv/old/new"].layer == layer_ref(1)
    assert files["/srv/sibling"].layer == layer_ref(0)


def test_whiteout_applies_to_lower_layers_only_not_its_own():
    # OCI image spec: "Files that are present in the same layer as a whiteout file can only be hidden by
    # whiteout files in subsequent layers."
    files = image([file("x", "lower")], [whiteout("x"), file("x", "same layer")])
    assert contents(files) == {"/x": b"same layer"}
    assert files["/x"].layer == layer_ref(1)


def test_file_re_added_after_its_whiteout_comes_from_the_re_adding_layer():
    files = image([file("app/conf", "v1")], [whiteout("app/conf")], [file("app/conf", "v3")])
    assert contents(files) == {"/app/conf": b"v3"}
    assert files["/app/conf"].layer == layer_ref(2)


def test_each_file_reports_the_layer_that_last_wrote_it():
    files = image(
        [file("a", "a0"), file("b", "b0"), file("c", "c0")],
        [file("b", "b1")],
        [file("c", "c2")],
    )
    assert {p: (f.data, f.layer) for p, f in files.items()} == {
        "/a": (b"a0", layer_ref(0)), "/b": (b"b1", layer_ref(1)), "/c": (b"c2", layer_ref(2)),
    }


def test_symlinked_release_file_is_yielded_through_the_link_with_the_writers_layer():
    select = Select(["/etc/os-release", "/usr/lib/os-release"])
    files = image(
        [file("usr/lib/os-release", "ID=debian\n"), symlink("etc/os-release", "../usr/lib/os-release")],
        [file("usr/lib/os-release", "ID=debian\nVERSION_ID=12\n")],
        select=select,
    )
    assert contents(files) == {
        "/etc/os-release": b"ID=debian\nVERSION_ID=12\n",
        "/usr/lib/os-release": b"ID=debian\nVERSION_ID=12\n",
    }
    assert files["/etc/os-release"].layer == layer_ref(1)


def test_absolute_symlink_and_directory_symlinks_on_the_way_resolve_inside_the_root():
    # merged-/usr: /lib → usr/lib; /etc/alt → /lib/real (absolute, through the directory link)
    files = image(
        [symlink("lib", "usr/lib"), file("usr/lib/real", "R"), symlink("etc/alt", "/lib/real")],
        select=Select(["/etc/alt", "/usr/lib/real"]),
    )
    assert contents(files) == {"/etc/alt": b"R", "/usr/lib/real": b"R"}


def test_symlink_whose_target_was_not_picked_yields_nothing():
    files = image([file("data/x", "x"), symlink("link", "data/x")], select=Select(["/link"]))
    assert files == {}


def test_dangling_symlink_yields_nothing():
    assert image([symlink("etc/os-release", "../usr/lib/os-release")], select=Select(["/etc/os-release"])) == {}


def test_upper_symlink_replacing_a_directory_hides_the_files_beneath():
    files = image(
        [file("lib/x", "old"), file("usr/lib/x", "new")],
        [symlink("lib", "usr/lib")],
        select=Select(["/lib/x", "/usr/lib/x"]),
    )
    assert contents(files) == {"/usr/lib/x": b"new"}


def test_upper_directory_replacing_a_symlink_drops_the_symlink():
    files = image(
        [file("real/f", "F"), symlink("alias", "real")],
        [directory("alias")],
        select=Select(["/alias", "/real/f"]),
    )
    assert contents(files) == {"/real/f": b"F"}


def test_hard_link_in_the_same_layer_carries_its_targets_bytes():
    files = image([file("usr/bin/python3.11", "ELF", mode=0o755), hardlink("usr/bin/python3", "usr/bin/python3.11")])
    assert contents(files) == {"/usr/bin/python3": b"ELF", "/usr/bin/python3.11": b"ELF"}
    assert files["/usr/bin/python3"].mode == 0o755


def test_hard_link_to_a_lower_layer_file_keeps_that_content_even_if_the_target_changes_later():
    files = image(
        [file("a", "original")],
        [hardlink("b", "a")],
        [file("a", "rewritten")],
    )
    assert contents(files) == {"/a": b"rewritten", "/b": b"original"}
    assert files["/b"].layer == layer_ref(1)


def test_symlink_loop_is_an_error_naming_the_layer():
    with pytest.raises(LinkLoop, match=r"layer sha256:0{8}: link loop: .*/a"):
        image([symlink("a", "b"), symlink("b", "a")], select=Select(["/a"]))


def test_symlink_chain_longer_than_the_limit_is_an_error():
    chain = [symlink(f"l{i}", f"l{i + 1}") for i in range(10)] + [file("l10", "end")]
    assert contents(image(chain, select=Select(["/l0", "/l10"])))["/l0"] == b"end"
    with pytest.raises(LinkTooDeep, match="more than 5 symlinks"):
        image(chain, select=Select(["/l0", "/l10"]), limits=Limits(max_link_depth=5))


@pytest.mark.parametrize("target", ["../../../etc/shadow", "/../etc/shadow", "sub/../../../x"])
def test_symlink_climbing_above_the_root_is_an_error(target):
    with pytest.raises(LinkEscapesRoot, match="outside the image root"):
        image([file("etc/shadow", "s"), symlink("evil", target)], select=Select(["/evil", "/etc/shadow"]))


def test_merge_of_separately_read_layers_equals_read_image():
    layers = [[file("a", "1"), symlink("s", "a")], [whiteout("a"), file("a", "2")], [file("b", "3")]]
    select = Select(["/a", "/b", "/s"])
    separately = [read_layer(layer_ref(i), io.BytesIO(tar_bytes(*e)), select) for i, e in enumerate(layers)]
    assert merge(separately) == image(*layers, select=select)
    assert contents(merge(separately)) == {"/a": b"2", "/b": b"3", "/s": b"2"}


def test_shadows_answers_for_paths_the_layer_never_picked():
    """What a pipeline merging cached inventories relies on: whiteouts/replacements of unpicked paths."""
    upper = read_layer(
        layer_ref(1),
        io.BytesIO(tar_bytes(whiteout("usr/lib/python3/dist-packages/yaml"), opaque("opt"), file("srv/bin"),
                             symlink("var/lib/old", "/new"), file("etc/passwd", "x"))),
        Select(["/nothing"]),
    )
    assert upper.files == {}
    # A lower *file* at /opt is replaced too: the opaque marker makes /opt a directory in this layer.
    shadowed = ["/usr/lib/python3/dist-packages/yaml/__init__.py", "/usr/lib/python3/dist-packages/yaml",
                "/opt/x/METADATA", "/opt", "/srv/bin/anything", "/var/lib/old/status", "/etc/passwd"]
    visible = ["/usr/lib/python3/dist-packages/yaml2/x", "/optional/x", "/srv/binary", "/etc/group", "/var/lib/older"]
    assert [p for p in shadowed if upper.shadows(p)] == shadowed
    assert [p for p in visible if upper.shadows(p)] == []


def test_stored_shadow_round_trips_and_bad_data_is_a_clear_error():
    contents = read_layer(layer_ref(1), io.BytesIO(tar_bytes(whiteout("a/b"), opaque("c"), file("d"))), EVERYTHING)
    stored = contents.shadow.to_dict()
    assert LayerShadow.from_dict(stored) == contents.shadow
    assert stored["whiteouts"] == ["/a/b"] and stored["opaque_dirs"] == ["/c"]
    with pytest.raises(ValueError, match="not a stored LayerShadow"):
        LayerShadow.from_dict({**stored, "dirs": "not base64!"})
    with pytest.raises(ValueError, match="not a stored LayerShadow"):
        LayerShadow.from_dict({"whiteouts": []})


def test_hard_link_loop_is_an_error_and_a_dangling_hard_link_yields_nothing():
    with pytest.raises(LinkLoop, match=r"link loop: hard link /a"):
        image([hardlink("a", "b"), hardlink("b", "a")], select=Select(["/a"]))
    assert image([hardlink("a", "nowhere")], select=Select(["/a"])) == {}


def test_hard_link_chain_within_a_layer_reaches_a_lower_file():
    files = image(
        [file("base", "B")], [hardlink("one", "base"), hardlink("two", "one")], select=Select(["/two", "/base"])
    )
    assert contents(files) == {"/base": b"B", "/two": b"B"}
    assert files["/two"].layer == layer_ref(1)
