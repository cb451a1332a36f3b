"""An unpacked directory read as one layer (crscan.layers.directory): the layer reader's rules on a real tree."""

from __future__ import annotations

import os
import stat

import pytest

from crscan.layers import Limits, LinkEscapesRoot, PickedTooMuch, Select, TooManyEntries, merge
from crscan.layers.directory import PSEUDO_FILESYSTEMS, NotADirectory, read_directory
from crscan.model import LayerRef

LAYER = LayerRef("", "")
METADATA = "/site/pkg-1.0.dist-info/METADATA"
PICK = Select(["/**/METADATA", "/etc/os-release"])


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "site/pkg-1.0.dist-info").mkdir(parents=True)
    (root / "site/pkg-1.0.dist-info/METADATA").write_bytes(b"Name: pkg\nVersion: 1.0\n")
    (root / "etc").mkdir()
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_bytes(b"ID=debian\n")
    return root


def test_files_and_links_as_a_layer_would_carry_them(tree):
    contents = read_directory(tree, LAYER, PICK)
    assert set(contents.files) == {METADATA}
    assert contents.symlinks == {"/etc/os-release": "../usr/lib/os-release"}
    assert "/usr/lib/os-release" in contents.shadow.non_dirs and "/site" in contents.shadow.dirs
    assert contents.files[METADATA].mode == 0o644
    # The link's target was not picked by path, but merge resolves the picked link inside the tree.
    assert merge([read_directory(tree, LAYER, Select(["/etc/os-release", "/usr/lib/os-release"]))])[
        "/etc/os-release"].data == b"ID=debian\n"


def test_a_link_out_of_the_tree_is_refused_when_followed(tree):
    (tree / "etc/os-release").unlink()
    (tree / "etc/os-release").symlink_to("../../../../../../../../etc/os-release")
    with pytest.raises(LinkEscapesRoot):
        merge([read_directory(tree, LAYER, PICK)])


def test_a_directory_link_is_never_walked(tree, tmp_path):
    outside = tmp_path / "outside/other-2.0.dist-info"
    outside.mkdir(parents=True)
    (outside / "METADATA").write_bytes(b"Name: other\n")
    (tree / "site/linked").symlink_to(outside.parent)
    assert set(read_directory(tree, LAYER, PICK).files) == {METADATA}


def test_limits_bound_the_walk(tree):
    big = tree / "site/big-1.0.dist-info"
    big.mkdir()
    (big / "METADATA").write_bytes(b"x" * 100)
    skipped = read_directory(tree, LAYER, PICK, Limits(max_file_bytes=50))
    assert set(skipped.files) == {METADATA}
    assert skipped.skipped == (("/site/big-1.0.dist-info/METADATA", "100 bytes, over the 50-byte file limit"),)
    with pytest.raises(TooManyEntries):
        read_directory(tree, LAYER, PICK, Limits(max_entries=5))
    with pytest.raises(PickedTooMuch):
        read_directory(tree, LAYER, PICK, Limits(max_picked_bytes=110))


def test_special_files_are_never_opened_and_pseudo_filesystems_can_be_skipped(tree):
    (tree / "proc/1").mkdir(parents=True)
    (tree / "proc/1/METADATA").write_bytes(b"Name: kernel\n")
    os.mkfifo(tree / "site/pkg-1.0.dist-info/x")
    walked = read_directory(tree, LAYER, Select(["/**/METADATA", "/site/**"]))  # a FIFO read would block
    assert "/proc/1/METADATA" in walked.files and "/site/pkg-1.0.dist-info/x" not in walked.files
    assert stat.S_ISFIFO(os.stat(tree / "site/pkg-1.0.dist-info/x").st_mode)
    rootfs = read_directory(tree, LAYER, PICK, skip=PSEUDO_FILESYSTEMS)
    assert set(rootfs.files) == {METADATA}


def test_not_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "file", tmp_path / "missing"):
        with pytest.raises(NotADirectory):
            read_directory(path, LAYER, PICK)
