"""Pulling the real test images from a real local registry (Debian's docker-registry)."""

from __future__ import annotations

import hashlib
import json

import pytest

from crscan.registry import (
    BlobUnknown,
    ByteCounter,
    ImageSource,
    ManifestUnknown,
    PlatformNotFound,
    RegistryClient,
    UnsupportedMediaType,
    open_source,
)
from crscan.registry.manifest import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from tests.support.registry import skopeo_copy, start_registry

pytestmark = pytest.mark.registry


def layout_config(image) -> dict:
    layout = image.layout
    index = json.loads((layout / "index.json").read_text())
    digest = next(d["digest"] for d in index["manifests"]
                  if d["annotations"]["org.opencontainers.image.ref.name"] == image.layout_tag)
    manifest = json.loads((layout / "blobs/sha256" / digest.split(":")[1]).read_bytes())
    return json.loads((layout / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).read_bytes())


def drain(source: ImageSource, layer) -> tuple[int, str]:
    """Read a layer stream to EOF in odd-sized reads; (bytes, sha256 of them)."""
    sha = hashlib.sha256()
    total = 0
    with source.open_layer(layer) as stream:
        while chunk := stream.read(100_003):
            sha.update(chunk)
            total += len(chunk)
    return total, "sha256:" + sha.hexdigest()


@pytest.mark.parametrize("name", ["bookworm", "bullseye"])
def test_pull_by_tag_and_by_digest_yield_the_built_image(test_images, name):
    image = test_images[name]
    with open_source(image.tag_ref) as by_tag, open_source(image.digest_ref) as by_digest:
        assert by_tag.digest == by_digest.digest == image.pushed_digest
        assert by_tag.layers == by_digest.layers
        assert [layer.ref for layer in by_tag.layers] == list(image.layers)
        assert by_tag.config["rootfs"]["diff_ids"] == [layer.diff_id for layer in image.layers]
        assert by_tag.platform == "linux/amd64"
        assert by_tag.reference == image.tag_ref


def test_oci_push_keeps_the_layout_manifest_digest_and_v2s2_gets_its_own(test_images):
    assert test_images["bookworm"].pushed_digest == test_images["bookworm"].manifest_digest
    assert test_images["bullseye"].pushed_digest != test_images["bullseye"].manifest_digest
    with RegistryClient(test_images["bullseye"].tag_ref.split("/")[0]) as client:
        fetched = client.get_manifest("test/bullseye", "1")
        assert fetched.media_type == DOCKER_MANIFEST
        assert client.get_manifest("test/bookworm", "1").media_type == OCI_MANIFEST


def test_layer_streams_hash_to_their_digest_and_the_counter_sees_every_byte(test_images):
    image = test_images["bookworm"]
    counter = ByteCounter()
    with open_source(image.tag_ref, counter=counter) as source:
        after_metadata = counter.total
        assert after_metadata > 0  # manifest + config
        pulled = 0
        for layer in source.layers:
            size, digest = drain(source, layer)
            assert (size, digest) == (layer.size, layer.digest)
            pulled += size
    assert counter.total == after_metadata + pulled


@pytest.mark.parametrize("name", ["multi", "multi-docker"])
@pytest.mark.parametrize("platform, expected", [
    ("linux/amd64", "bookworm"), ("linux/arm64", "arm64"), ("linux/arm64/v8", "arm64"), ("linux/aarch64", "arm64"),
])
def test_index_resolves_to_the_requested_platform(test_images, name, platform, expected):
    index = test_images[name]
    with open_source(index.tag_ref, platform=platform) as source:
        assert source.config["architecture"] == ("amd64" if expected == "bookworm" else "arm64")
        assert source.config["rootfs"]["diff_ids"] == [layer.diff_id for layer in test_images[expected].layers]
        assert source.index_digest == index.pushed_digest
        if name == "multi":  # the OCI index points at the very manifests of the layout
            assert source.digest == test_images[expected].manifest_digest


def test_index_media_types_as_pushed(test_images):
    with RegistryClient(test_images["multi"].tag_ref.split("/")[0]) as client:
        assert client.get_manifest("test/multi", "1").media_type == OCI_INDEX
        assert client.get_manifest("test/multi", "docker").media_type == DOCKER_MANIFEST_LIST


def test_default_platform_is_linux_amd64(test_images):
    with open_source(test_images["multi"].tag_ref) as source:
        assert source.platform == "linux/amd64"


@pytest.mark.parametrize("platform", ["linux/s390x", "windows/amd64", "linux/arm/v7"])
def test_absent_platform_is_a_clear_error(test_images, platform):
    with pytest.raises(PlatformNotFound) as error:
        open_source(test_images["multi"].tag_ref, platform=platform)
    message = str(error.value)
    assert platform in message and "linux/amd64" in message and "linux/arm64/v8" in message


def test_unknown_tag_repository_and_digest(local_registry, test_images):
    with pytest.raises(ManifestUnknown, match=r"test/bookworm:nope.*MANIFEST_UNKNOWN"):
        open_source(f"{local_registry.host}/test/bookworm:nope")
    with pytest.raises(ManifestUnknown, match="no/such"):
        open_source(f"{local_registry.host}/no/such:1")
    missing = "sha256:" + "0" * 64
    with pytest.raises(ManifestUnknown, match=missing):
        open_source(f"{local_registry.host}/test/bookworm@{missing}")
    with RegistryClient(local_registry.host) as client, pytest.raises(BlobUnknown, match=missing):
        client.open_blob("test/bookworm", missing).read()


def test_docker_schema1_is_rejected_as_unsupported(built_images):
    # a real schema 1 push: skopeo converts (and signs) into a registry of its own that allows schema 1, so
    # the shared registry holds only scannable images (tests that sync all of it expect no skips)
    registry = start_registry(schema1=True)
    try:
        skopeo_copy(built_images["bookworm"].oci_ref.replace(":bookworm", ":bookworm-python"),
                    f"docker://{registry.host}/test/schema1:1", format="v2s1")
        with pytest.raises(UnsupportedMediaType, match="schema 1"):
            open_source(f"{registry.host}/test/schema1:1")
    finally:
        registry.stop()


def test_local_sources_match_the_registry_source(test_images):
    image = test_images["bookworm"]
    with open_source(image.tag_ref) as pulled, open_source(image.oci_ref) as layout, \
            open_source(f"docker-archive:{image.docker_archive}") as archive:
        assert layout.layers == pulled.layers
        assert layout.digest == pulled.digest
        assert layout.config == pulled.config
        diff_ids = [layer.diff_id for layer in pulled.layers]
        assert [layer.diff_id for layer in archive.layers] == diff_ids
        assert archive.config["rootfs"]["diff_ids"] == diff_ids
        assert archive.platform == pulled.platform == layout.platform
        # docker-archive layers are stored uncompressed: each hashes to its diff_id
        top = archive.layers[-1]
        assert drain(archive, top) == (top.size, top.diff_id)
        assert drain(layout, layout.layers[-1]) == drain(pulled, pulled.layers[-1])


def test_list_repositories_and_tags_follow_pagination(local_registry, test_images):
    with RegistryClient(local_registry.host) as client:
        everything = list(client.list_repositories())
        one_by_one = list(client.list_repositories(page_size=1))
        assert one_by_one == everything
        assert {"test/bookworm", "test/bullseye", "test/multi", "test/arm64"} <= set(everything)
        assert sorted(client.list_tags("test/multi", page_size=1)) == ["1", "docker"]
        with pytest.raises(ManifestUnknown, match="no/such"):
            list(client.list_tags("no/such"))
