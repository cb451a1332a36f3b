"""The built test images are what other tests rely on them being (checked with dpkg-query, the real files)."""

from __future__ import annotations

import gzip
import json
import subprocess
import tarfile

import pytest

from tests.support.images import NPM_REQUIREMENTS, PYTHON_REQUIREMENTS, RELEASES

pytestmark = pytest.mark.registry
NPM_REQUIREMENTS_PAIRS = [tuple(r.rsplit("@", 1)) for r in NPM_REQUIREMENTS]


def dpkg_packages(rootfs) -> dict[str, str]:
    out = subprocess.run(["dpkg-query", "-W", f"--admindir={rootfs}/var/lib/dpkg"], check=True,
                         capture_output=True, text=True).stdout
    return dict(line.split("\t", 1) for line in out.splitlines())


def layer_names(image, stage: str) -> list[str]:
    layer = next(s.layer for s in image.stages if s.name == stage)
    blob = image.layout / "blobs/sha256" / layer.digest.split(":")[1]
    with tarfile.open(fileobj=gzip.open(blob)) as tar:
        return tar.getnames()


@pytest.mark.parametrize("release", list(RELEASES))
def test_debian_image_stages(built_images, release):
    image = built_images[release]
    assert [s.name for s in image.stages] == ["base", "python", "npm", "deleted", "purged"]
    base, final = dpkg_packages(image.rootfs("base")), dpkg_packages(image.rootfs())
    assert image.purged_dpkg_package in base and image.purged_dpkg_package not in final
    assert set(final) == set(base) - {image.purged_dpkg_package}
    os_release = (image.rootfs() / "etc/os-release").read_text()
    assert f"VERSION_CODENAME={release}" in os_release


@pytest.mark.parametrize("release", list(RELEASES))
def test_expected_language_packages_are_the_requested_ones(built_images, release):
    image = built_images[release]
    requested = {r.split("==")[0].lower(): r.split("==")[1] for r in PYTHON_REQUIREMENTS}
    installed = {name.lower(): version for name, version in image.python_packages.items()}
    assert installed.keys() == requested.keys()
    assert installed["django"] == "3.2" and installed["requests"] == "2.19.0"  # as METADATA spells them
    for name, version in NPM_REQUIREMENTS_PAIRS:
        assert (name, version) in image.npm_packages
    assert len(image.npm_packages) > 30  # express 4.15.0 brings its dependency tree
    site = f"usr/local/lib/python{RELEASES[release]}/site-packages"
    assert (image.rootfs("python") / site / "yaml/__init__.py").exists()
    assert not (image.rootfs() / site / "yaml").exists()
    assert image.final_python_packages.keys() == image.python_packages.keys() - {image.deleted_python_package}
    lock = json.loads((image.rootfs() / "app/package-lock.json").read_text())
    assert lock["packages"]["node_modules/lodash"]["version"] == "4.17.4"


def test_delete_and_purge_layers_carry_whiteouts(built_images):
    image = built_images["bookworm"]
    deleted = layer_names(image, "deleted")
    assert "usr/local/lib/python3.11/site-packages/.wh.yaml" in deleted
    assert any(n.endswith(".wh.pyyaml-5.3.dist-info") for n in deleted)
    purged = layer_names(image, "purged")
    assert "usr/bin/.wh.apt-get" in purged
    assert "var/lib/dpkg/status" in purged


def test_index_lists_amd64_bookworm_and_arm64(built_images):
    index = built_images["multi"]
    document = json.loads((index.layout / "blobs/sha256" / index.manifest_digest.split(":")[1]).read_bytes())
    members = {m["digest"]: m["platform"] for m in document["manifests"]}
    assert members == {
        built_images["bookworm"].manifest_digest: {"architecture": "amd64", "os": "linux"},
        built_images["arm64"].manifest_digest: {"architecture": "arm64", "os": "linux", "variant": "v8"},
    }
    assert layer_names(built_images["arm64"], "files") == ["etc/crscan-test-arch", "etc/os-release"]
