from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.registry import InvalidManifest, PlatformNotFound, RegistryError, UnsupportedMediaType
from crscan.registry.manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    pair_layers,
    parse_config,
    parse_manifest,
    parse_platform,
    select_platform,
)

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def manifest(media_type=OCI_MANIFEST, config_type="application/vnd.oci.image.config.v1+json",
             layer_type="application/vnd.oci.image.layer.v1.tar+gzip", **extra) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": D1, "size": 10},
        "layers": [{"mediaType": layer_type, "digest": D2, "size": 20}], **extra,
    }).encode()


def index(*platforms: dict, media_type=OCI_INDEX) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": "sha256:" + f"{i:x}" * 64, "size": 1, "platform": p}
        for i, p in enumerate(platforms)
    ]}).encode()


def test_image_manifest_parses_descriptors():
    parsed = parse_manifest(manifest(), OCI_MANIFEST, "m")
    assert isinstance(parsed, ImageManifest)
    assert (parsed.config.digest, parsed.layers[0].digest, parsed.layers[0].size) == (D1, D2, 20)


def test_docker_v2s2_and_manifest_list():
    docker = manifest(DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json",
                      "application/vnd.docker.image.rootfs.diff.tar.gzip")
    assert parse_manifest(docker, DOCKER_MANIFEST, "m").media_type == DOCKER_MANIFEST
    listed = parse_manifest(index({"os": "linux", "architecture": "amd64"}, media_type=DOCKER_MANIFEST_LIST),
                            DOCKER_MANIFEST_LIST, "l")
    assert isinstance(listed, ImageIndex) and listed.media_type == DOCKER_MANIFEST_LIST


def test_missing_media_type_is_told_apart_by_shape():
    bare = json.loads(manifest())
    del bare["mediaType"]
    assert isinstance(parse_manifest(json.dumps(bare).encode(), "", "m"), ImageManifest)
    assert isinstance(parse_manifest(b'{"schemaVersion": 2, "manifests": []}', "", "i"), ImageIndex)


@pytest.mark.parametrize("content, media_type, error, message", [
    (b'{"schemaVersion": 1, "fsLayers": []}', "application/json", UnsupportedMediaType, "schema 1"),
    (manifest(), "application/vnd.docker.distribution.manifest.v1+prettyjws", UnsupportedMediaType, "schema 1"),
    (manifest(config_type="application/vnd.cncf.helm.config.v1+json"), OCI_MANIFEST, UnsupportedMediaType,
     "not a container image"),
    (manifest(layer_type="application/x-foo"), OCI_MANIFEST, UnsupportedMediaType, "layer 0 .* 'application/x-foo'"),
    (b'{"schemaVersion": 2, "mediaType": "text/html"}', "text/html", UnsupportedMediaType, "'text/html'"),
    (b'{"schemaVersion": 3, "layers": [], "config": {}}', OCI_MANIFEST, InvalidManifest, "schemaVersion 3"),
    (b"\xff\xfe", OCI_MANIFEST, InvalidManifest, "not valid JSON"),
    (b"null", OCI_MANIFEST, InvalidManifest, "not a JSON object"),
    (manifest(config="x"), OCI_MANIFEST, InvalidManifest, "config is not a descriptor"),
    (json.dumps({"schemaVersion": 2, "config": {"mediaType": "a", "digest": D1, "size": -1}, "layers": []}).encode(),
     OCI_MANIFEST, InvalidManifest, "invalid size -1"),
    (json.dumps({"schemaVersion": 2, "config": {"mediaType": "a", "digest": "sha256:zz", "size": 1},
                 "layers": []}).encode(), OCI_MANIFEST, InvalidManifest, "malformed digest"),
    (json.dumps({"schemaVersion": 2, "layers": [{}] * 1001, "config": {}}).encode(), OCI_MANIFEST,
     InvalidManifest, "1001 layers"),
])
def test_bad_manifests_name_the_problem(content, media_type, error, message):
    with pytest.raises(error, match=message):
        parse_manifest(content, media_type, "manifest X")


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["schemaVersion", "mediaType", "config", "layers", "manifests", "digest",
                                         "size", "platform"]), inner, max_size=5),
                    max_leaves=20),
       st.sampled_from([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, ""]))
def test_arbitrary_json_is_parsed_or_rejected_with_a_registry_error(document, media_type):
    with contextlib.suppress(RegistryError):
        parse_manifest(json.dumps(document).encode(), media_type, "m")


AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64"}  # no variant: v8 is implied
ARMV7 = {"os": "linux", "architecture": "arm", "variant": "v7"}
ATTESTATION = {"os": "unknown", "architecture": "unknown"}


@pytest.mark.parametrize("wanted, position", [
    ("linux/amd64", 1), ("linux/arm64", 2), ("linux/arm64/v8", 2), ("linux/aarch64", 2), ("linux/x86_64", 1),
    ("linux/arm/v7", 3), ("linux/arm", 3), ("LINUX/AMD64", 1),
])
def test_select_platform(wanted, position):
    parsed = parse_manifest(index(ATTESTATION, AMD64, ARM64, ARMV7), OCI_INDEX, "i")
    assert select_platform(parsed, parse_platform(wanted), "i") == parsed.manifests[position]


def test_absent_platform_lists_what_is_offered_without_attestations():
    parsed = parse_manifest(index(ATTESTATION, AMD64, ARMV7), OCI_INDEX, "i")
    with pytest.raises(PlatformNotFound, match=r"no image for platform linux/arm64; it offers: linux/amd64, "
                                               r"linux/arm/v7$"):
        select_platform(parsed, parse_platform("linux/arm64"), "i")


@pytest.mark.parametrize("text", ["", "linux", "linux/", "/amd64", "a/b/c/d"])
def test_bad_platform_strings(text):
    with pytest.raises(PlatformNotFound, match="expected os/arch"):
        parse_platform(text)


def test_config_needs_diff_ids_matching_the_layers():
    config = parse_config(json.dumps({"rootfs": {"type": "layers", "diff_ids": [D3]}}).encode(), "c")
    layers = parse_manifest(manifest(), OCI_MANIFEST, "m").layers
    (paired,) = pair_layers(layers, config, "m")
    assert (paired.digest, paired.diff_id, paired.size) == (D2, D3, 20)
    with pytest.raises(InvalidManifest, match="1 layers but its config has 2 diff_ids"):
        pair_layers(layers, {"rootfs": {"diff_ids": [D3, D3]}}, "m")
    with pytest.raises(InvalidManifest, match=r"no rootfs.diff_ids"):
        parse_config(b'{"rootfs": "x"}', "c")
    with pytest.raises(InvalidManifest, match="malformed digest"):
        parse_config(b'{"rootfs": {"diff_ids": ["nope"]}}', "c")
