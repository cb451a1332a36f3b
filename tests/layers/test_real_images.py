"""The reader on the real Debian test images (tests/support/images.py), checked against independent oracles:
the unpacked rootfs after each build stage (content) and each layer's tar listed by stock `tarfile` (which
layer last wrote a path)."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import tarfile
from contextlib import ExitStack
from pathlib import Path

import pytest

from crscan.layers import LayerShadow, Select, merge, read_image, read_layer, visible
from crscan.registry import open_source

pytestmark = pytest.mark.registry

SELECT = Select([
    "/etc/os-release", "/usr/lib/os-release", "/var/lib/dpkg/status",
    "/usr/**/site-packages/*.dist-info/METADATA", "/app/node_modules/*/package.json",
])


def expected_pick(path: str) -> bool:
    """The same choice as SELECT, written without globs."""
    parts = path.split("/")
    return (
        path in ("/etc/os-release", "/usr/lib/os-release", "/var/lib/dpkg/status")
        or (path.startswith("/usr/") and len(parts) > 4 and parts[-3] == "site-packages"
            and parts[-2].endswith(".dist-info") and parts[-1] == "METADATA")
        or (len(parts) == 5 and parts[1:3] == ["app", "node_modules"] and parts[4] == "package.json")
    )


def rootfs_listing(rootfs: Path) -> dict[str, os.stat_result]:
    """Every non-directory in an unpacked rootfs, by image path (symlinks not followed)."""
    listing = {}
    for directory, dirnames, filenames in os.walk(rootfs):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(directory, d))]:
            full = os.path.join(directory, name)
            listing["/" + os.path.relpath(full, rootfs)] = os.lstat(full)
    return listing


def tar_listing(blob: Path) -> set[str]:
    """Member paths of a layer blob as stock tarfile (random access mode) reads them, whiteouts excluded."""
    with tarfile.open(blob, "r:*") as tar:
        return {"/" + m.name.lstrip("./").rstrip("/") for m in tar if ".wh." not in m.name}


@pytest.fixture(scope="module")
def bookworm(built_images):
    return built_images["bookworm"]


@pytest.fixture(scope="module")
def layer_contents(bookworm):
    """Each layer of the bookworm image read on its own (as the pipeline's per-layer cache does)."""
    with open_source(bookworm.oci_ref) as source:
        assert [layer.ref for layer in source.layers] == list(bookworm.layers)
        contents = []
        for layer in source.layers:
            with source.open_layer(layer) as stream:
                contents.append(read_layer(layer.ref, stream, SELECT))
        return contents


@pytest.fixture(scope="module")
def merged(layer_contents):
    return merge(layer_contents)


def test_picked_files_are_exactly_the_final_rootfs_files_with_their_bytes(bookworm, merged):
    final = bookworm.rootfs()
    expected = {p for p, st in rootfs_listing(final).items() if expected_pick(p)}
    assert set(merged) == expected
    for path, picked in merged.items():
        assert picked.data == (final / path.lstrip("/")).read_bytes(), path  # symlinks read through
        if stat.S_ISREG(os.lstat(final / path.lstrip("/")).st_mode):
            assert picked.mode == stat.S_IMODE(os.lstat(final / path.lstrip("/")).st_mode), path


def test_os_release_comes_through_the_debian_symlink(bookworm, merged):
    assert os.readlink(bookworm.rootfs() / "etc/os-release") == "../usr/lib/os-release"
    assert merged["/etc/os-release"].data == merged["/usr/lib/os-release"].data
    assert b"VERSION_CODENAME=bookworm" in merged["/etc/os-release"].data
    assert merged["/etc/os-release"].layer == bookworm.layers[0]


def test_each_picked_file_reports_the_layer_that_last_wrote_it(bookworm, merged):
    layout_blobs = bookworm.layout / "blobs" / "sha256"
    listings = [tar_listing(layout_blobs / layer.digest.split(":")[1]) for layer in bookworm.layers]
    for path, picked in merged.items():
        real = "/usr/lib/os-release" if path == "/etc/os-release" else path
        writer = max(i for i, names in enumerate(listings) if real in names)
        assert picked.layer == bookworm.layers[writer], path
    stage = {s.name: s.layer for s in bookworm.stages}
    assert merged["/var/lib/dpkg/status"].layer == stage["purged"]  # dpkg --purge rewrote it last
    assert any(f.layer == stage["python"] for p, f in merged.items() if p.endswith("METADATA"))
    assert any(f.layer == stage["npm"] for p, f in merged.items() if p.endswith("package.json"))


def test_python_package_deleted_in_a_later_layer_is_not_seen(bookworm, layer_contents, merged):
    deleted = bookworm.deleted_python_package
    stage_index = {s.name: i for i, s in enumerate(bookworm.stages)}

    def metadata_of(files):
        return [p for p, f in files.items()
                if p.endswith("/METADATA") and f"\nName: {deleted}\n".encode() in f.data]

    in_python_layer = metadata_of(layer_contents[stage_index["python"]].files)
    assert len(in_python_layer) == 1, "the python layer installed it"
    assert metadata_of(merged) == []
    assert layer_contents[stage_index["deleted"]].shadows(in_python_layer[0])
    installed = {n for n in bookworm.final_python_packages}
    seen = {f.data.split(b"\nName: ")[1].split(b"\n")[0].decode() for p, f in merged.items()
            if p.startswith("/usr/local/") and p.endswith("/METADATA")}
    assert {n.lower() for n in seen} == {n.lower() for n in installed}


def test_purged_dpkg_package_is_gone_from_the_final_status(bookworm, merged):
    status = merged["/var/lib/dpkg/status"].data
    assert f"\nPackage: {bookworm.purged_dpkg_package}\n".encode() not in status
    assert b"\nPackage: libc6\n" in status


def test_pulling_from_the_registry_gives_the_same_files(test_images, merged):
    """The whole path the scanner takes: registry blob streams (digest verified at EOF) → read_image."""
    image = test_images["bookworm"]
    with open_source(image.tag_ref) as source, ExitStack() as streams:
        layers = ((layer.ref, streams.enter_context(source.open_layer(layer))) for layer in source.layers)
        assert read_image(layers, SELECT) == merged


def test_cached_shadows_rebuild_the_merge_without_rereading(bookworm, layer_contents, merged):
    """The inventory-merge recipe of crscan.layers' docstring: per-layer shadows stored as JSON decide, for
    every file each layer picked, whether it is in the final image — exactly as the full merge does."""
    stored = [json.loads(json.dumps(c.shadow.to_dict())) for c in layer_contents]
    shadows = [LayerShadow.from_dict(s) for s in stored]
    decided = {(i, path): visible(path, i, shadows) for i, c in enumerate(layer_contents) for path in c.files}
    truth = {(i, path): path in merged and merged[path].layer == c.layer
             for i, c in enumerate(layer_contents) for path in c.files}
    assert decided == truth
    assert sum(truth.values()) > 0 and sum(not v for v in truth.values()) > 0


CHROOT_READER = """
import base64, json, os, stat, sys
root, paths = sys.argv[1], json.loads(sys.stdin.read())
os.chroot(root)
os.chdir("/")
out = {}
for path in paths:
    real = os.path.realpath(path)  # the kernel-visible resolution, inside the chroot
    try:
        if stat.S_ISREG(os.stat(path).st_mode):
            with open(path, "rb") as f:
                out[path] = [real, base64.b64encode(f.read()).decode()]
            continue
    except OSError:
        pass
    out[path] = [real, None]
print(json.dumps(out))
"""


def test_symlinks_resolve_as_the_kernel_resolves_them_inside_the_root(bookworm, built_images):
    """Every symlink under /etc and /usr/bin (relative, absolute, chained through /etc/alternatives) is
    checked against what a chroot into the final rootfs reads through it."""
    select = Select(["/etc/**", "/usr/bin/*"])
    with open_source(bookworm.oci_ref) as source, ExitStack() as streams:
        merged = read_image(
            ((layer.ref, streams.enter_context(source.open_layer(layer))) for layer in source.layers), select
        )
    final = bookworm.rootfs()
    candidates = [p for p in rootfs_listing(final) if p.startswith("/etc/") or p.rsplit("/", 1)[0] == "/usr/bin"]
    run = subprocess.run([sys.executable, "-c", CHROOT_READER, str(final)], input=json.dumps(candidates),
                         capture_output=True, text=True, check=True)
    kernel = json.loads(run.stdout)

    def picked_by_select(real: str) -> bool:
        return real.startswith("/etc/") or real.rsplit("/", 1)[0] == "/usr/bin"

    expected = {p: base64.b64decode(data) for p, (real, data) in kernel.items()
                if data is not None and picked_by_select(real)}
    symlinked = [p for p in expected if os.path.islink(final / p.lstrip("/"))]
    assert len(symlinked) > 20, "the image should exercise symlinks"
    assert any(os.readlink(final / p.lstrip("/")).startswith("/") for p in symlinked)  # absolute targets too
    assert {p: f.data for p, f in merged.items()} == expected
