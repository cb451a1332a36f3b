"""Every OS of the supported table detected from its real release files (tests/catalog/distros, sources in
its README), with the release the feeds key on."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan.catalog.distro import detect_distro
from crscan.catalog.image import catalog_image
from crscan.model import DISTROS
from tests.catalog.helpers import file

TREES = Path(__file__).parent / "distros"


def tree(name: str):
    root = TREES / name
    return {f"/{p.relative_to(root)}": file(f"/{p.relative_to(root)}", p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


# tree -> (id, version_id, OSV ecosystem string or "" where OSV has none)
EXPECTED = {
    "ubuntu-22.04": ("ubuntu", "22.04", "Ubuntu:22.04"),
    "ubuntu-lsb-only": ("ubuntu", "22.04", "Ubuntu:22.04"),
    "ubi-9": ("rhel", "9.3", "Red Hat:enterprise_linux:9"),
    "centos-stream-9": ("centos-stream", "9", ""),
    "centos-stream-9-vendor-only": ("centos-stream", "9", ""),
    "centos-7-vendor-only": ("centos", "7.9.2009", "Red Hat:enterprise_linux:7"),  # Red Hat's RHEL 7 records
    "almalinux-9": ("almalinux", "9.3", "AlmaLinux:9"),
    "rocky-9": ("rocky", "9.3", "Rocky Linux:9"),
    "oraclelinux-8": ("ol", "8.9", ""),
    "oraclelinux-8-vendor-only": ("ol", "8.9", ""),
    "amazonlinux-2": ("amzn", "2", ""),
    "amazonlinux-2-vendor-only": ("amzn", "2", ""),
    "amazonlinux-2023": ("amzn", "2023", ""),
    "amazonlinux-2023-vendor-only": ("amzn", "2023.3.20240108", ""),
    "sles-15.3": ("sles", "15.3", "SUSE:Linux Enterprise Server 15 SP3"),
    "sles-12.5": ("sles", "12.5", "SUSE:Linux Enterprise Server 12 SP5"),
    "sles-12-vendor-only": ("sles", "12.3", "SUSE:Linux Enterprise Server 12 SP3"),
    "opensuse-leap-15.5": ("opensuse-leap", "15.5", "openSUSE:Leap 15.5"),
    "opensuse-tumbleweed": ("opensuse-tumbleweed", "20240801", "openSUSE:Tumbleweed"),
    "wolfi": ("wolfi", "20230201", "Wolfi"),
    "chainguard": ("chainguard", "20230214", "Chainguard"),
    "azurelinux-3": ("azurelinux", "3.0", "Azure Linux:3"),
    "cbl-mariner-2": ("mariner", "2.0", ""),
    "cbl-mariner-2-vendor-only": ("mariner", "2.0.20240123", ""),
    "photon-5": ("photon", "5.0", ""),
    "photon-5-vendor-only": ("photon", "5.0", ""),
    "openeuler-22.03-sp1": ("openeuler", "22.03-LTS-SP1", "openEuler:22.03-LTS-SP1"),
    "mageia-9": ("mageia", "9", "Mageia:9"),
    "distroless-debian12": ("debian", "12", "Debian:12"),
}


def test_every_tree_is_expected():
    assert sorted(p.name for p in TREES.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_detected_with_feed_release(name):
    distro = detect_distro(tree(name))
    distro_id, version_id, osv = EXPECTED[name]
    assert (distro.id, distro.version_id) == (distro_id, version_id)
    facts = DISTROS[distro.id]  # every OS of the table is in the facts table
    assert facts.osv_ecosystem(distro.version_id) == osv


def test_amazon_major_is_the_feed_release():
    assert DISTROS["amzn"].osv_release.of("2023.3.20240108") == "2023"


def test_distroless_status_d_packages():
    inventory = catalog_image(tree("distroless-debian12"))
    assert inventory.distro.id == "debian" and inventory.distro.codename == "bookworm"
    assert [(p.name, p.version) for p in inventory.packages] == [("base-files", "12.4+deb12u5")]
