"""The catalogers on the real Debian test images (tests/support/images.py), read through crscan.layers.

Each inventory is checked against the tools that built the image: dpkg-query on the same root filesystem,
and what pip and npm reported installing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crscan.catalog import catalog_image, default_catalogers, wants_any
from crscan.catalog.python.parse_metadata import normalize_name
from crscan.layers import Select, read_image
from crscan.model import Ecosystem

pytestmark = pytest.mark.registry
RELEASES = ["bookworm", "bullseye"]


def read_files(image, catalogers):
    select = Select(predicates=[lambda path, mode, size: wants_any(catalogers, path, mode, size)])
    blobs = image.layout / "blobs" / "sha256"
    streams = [(stage.layer, open(blobs / stage.layer.digest.split(":", 1)[1], "rb")) for stage in image.stages]
    try:
        return read_image(streams, select)
    finally:
        for _, stream in streams:
            stream.close()


@pytest.fixture(scope="module")
def inventories(built_images):
    catalogers = default_catalogers()
    return {name: catalog_image(read_files(built_images[name], catalogers), catalogers) for name in RELEASES}


def dpkg_query(rootfs: Path) -> set[tuple[str, str, str, str]]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Abbrev}\n",
         f"--admindir={rootfs}/var/lib/dpkg"], check=True, capture_output=True, text=True).stdout
    return {tuple(row[:4]) for row in (line.split("\t") for line in out.splitlines()) if row[4].strip() == "ii"}


@pytest.mark.parametrize("release", RELEASES)
def test_dpkg_inventory_equals_dpkg_query(built_images, inventories, release):
    image, inventory = built_images[release], inventories[release]
    assert inventory.distro.id == "debian" and inventory.distro.codename == release
    got = {(p.name, p.version, p.source_name, p.source_version)
           for p in inventory.packages if p.ecosystem is Ecosystem.DPKG}
    assert got == dpkg_query(image.rootfs())
    assert image.purged_dpkg_package not in {row[0] for row in got}  # purged by the last layer
    base_layer = image.stages[0].layer
    assert next(p for p in inventory.packages if p.name == "base-files").layer == base_layer


@pytest.mark.parametrize("release", RELEASES)
def test_python_inventory_equals_what_pip_installed(built_images, inventories, release):
    image, inventory = built_images[release], inventories[release]
    site_packages = "/usr/local/lib/python"
    got = {(p.name, p.version) for p in inventory.packages
           if p.ecosystem is Ecosystem.PYPI and p.path.startswith(site_packages)}
    assert got == {(normalize_name(n), v) for n, v in image.final_python_packages.items()}
    assert normalize_name(image.deleted_python_package) not in {name for name, _ in got}  # whited out later
    python_layer = next(s.layer for s in image.stages if s.name == "python")
    assert all(p.layer == python_layer for p in inventory.packages if p.path.startswith(site_packages))


@pytest.mark.parametrize("release", RELEASES)
def test_npm_inventory_equals_what_npm_installed(built_images, inventories, release):
    image, inventory = built_images[release], inventories[release]
    got = {(p.name, p.version) for p in inventory.packages if p.ecosystem is Ecosystem.NPM and p.path.startswith("/app/")}
    assert got == set(image.npm_packages)
    assert all(p.path.endswith("/package.json") for p in inventory.packages if p.path.startswith("/app/"))


@pytest.mark.parametrize("release", RELEASES)
def test_no_warnings_on_real_images(inventories, release):
    assert inventories[release].warnings == ()
