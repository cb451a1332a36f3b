"""`oci:` and `docker-archive:` sources on real files, including broken and hostile ones."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from crscan.registry import (
    BlobUnknown,
    DigestMismatch,
    InvalidManifest,
    InvalidReference,
    ManifestUnknown,
    RegistryError,
    open_source,
)
from crscan.registry.sources import DockerArchiveSource, OciLayoutSource
from tests.support.images import OciLayout, write_synthetic_image
from tests.support.registry import skopeo_copy


def tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def docker_archive(path: Path, images: dict[str, dict[str, bytes]]) -> dict[str, str]:
    """A skopeo-style `docker save` tar: one uncompressed one-layer image per tag; returns tag → diff_id."""
    members, manifest, diff_ids = {}, [], {}
    for tag, files in images.items():
        layer = tar_of(files)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(layer)]}}).encode()
        members[f"{sha(layer)}.tar"] = layer
        members[f"{sha(config)}.json"] = config
        manifest.append({"Config": f"{sha(config)}.json", "RepoTags": [tag], "Layers": [f"{sha(layer)}.tar"]})
        diff_ids[tag] = "sha256:" + sha(layer)
    members["manifest.json"] = json.dumps(manifest).encode()
    path.write_bytes(tar_of(members))
    return diff_ids


@pytest.fixture
def small_layout(tmp_path) -> OciLayout:
    layout = OciLayout(tmp_path / "layout")
    (layout.path / "blobs/sha256").mkdir(parents=True)
    (layout.path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout.path / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    write_synthetic_image(layout, "one", {"etc/one": b"1\n"})
    return layout


def read_layer(source, index: int = 0) -> bytes:
    with source.open_layer(source.layers[index]) as stream:
        return stream.read()


def test_layout_directory_by_tag(small_layout):
    with open_source(f"oci:{small_layout.path}:one") as source:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(read_layer(source)))) as tar:
            assert tar.getnames() == ["etc/one"]
        assert source.digest == small_layout.descriptor("one")["digest"]


def test_layout_with_one_image_needs_no_tag_but_several_do(small_layout):
    assert open_source(f"oci:{small_layout.path}").digest == small_layout.descriptor("one")["digest"]
    write_synthetic_image(small_layout, "two", {"etc/two": b"2\n"})
    with pytest.raises(ManifestUnknown, match=r"holds 2 images.*tags: one, two"):
        open_source(f"oci:{small_layout.path}")
    with pytest.raises(ManifestUnknown, match="no tag 'three'; tags: one, two"):
        open_source(f"oci:{small_layout.path}:three")


def test_layout_missing_and_tampered_blobs(small_layout):
    source = OciLayoutSource(small_layout.path, "one")
    layer_file = small_layout.blob_path(source.layers[0].digest)
    data = bytearray(layer_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer_file.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch, match=source.layers[0].digest):
        read_layer(source)
    layer_file.unlink()
    with pytest.raises(BlobUnknown, match=source.layers[0].digest):
        read_layer(source)


def test_layout_path_errors(tmp_path):
    with pytest.raises(InvalidReference, match="does not exist"):
        open_source(f"oci:{tmp_path}/nowhere:tag")
    with pytest.raises(RegistryError, match=r"no index.json"):
        open_source(f"oci:{tmp_path}")
    (tmp_path / "index.json").write_text("[]")
    with pytest.raises(InvalidManifest, match="not a JSON object"):
        open_source(f"oci:{tmp_path}")


def test_paths_with_colons(small_layout, tmp_path):
    odd = tmp_path / "a:b"
    shutil.copytree(small_layout.path, odd)
    assert open_source(f"oci:{odd}:one").digest == open_source(f"oci:{odd}").digest


def test_oci_archive_tar_reads_like_the_directory(built_images, tmp_path):
    image = built_images["arm64"]
    archive = tmp_path / "arm64.oci.tar"
    skopeo_copy(image.oci_ref, f"oci-archive:{archive}:arm64")
    with open_source(f"oci:{archive}:arm64", platform="linux/arm64") as from_tar, \
            open_source(image.oci_ref, platform="linux/arm64") as from_dir:
        assert from_tar.layers == from_dir.layers
        assert read_layer(from_tar) == read_layer(from_dir)
    (tmp_path / "arm64.oci.tar.gz").write_bytes(gzip.compress(archive.read_bytes()))
    with pytest.raises(RegistryError, match="is compressed; decompress it first"):
        open_source(f"oci:{tmp_path / 'arm64.oci.tar.gz'}")


def test_docker_archive_with_several_images_is_picked_by_name(tmp_path):
    path = tmp_path / "two.tar"
    diff_ids = docker_archive(path, {"app/one:1": {"one": b"1"}, "app/two:2": {"two": b"22"}})
    with pytest.raises(ManifestUnknown, match=r"holds 2 images.*app/one:1, app/two:2"):
        open_source(f"docker-archive:{path}")
    with open_source(f"docker-archive:{path}:app/two:2") as source:
        assert source.layers[0].diff_id == source.layers[0].digest == diff_ids["app/two:2"]
        with tarfile.open(fileobj=io.BytesIO(read_layer(source))) as tar:
            assert tar.getnames() == ["two"]
    with pytest.raises(ManifestUnknown, match="no image 'app/three:3'"):
        open_source(f"docker-archive:{path}:app/three:3")


def test_docker_archive_tampered_layer(tmp_path):
    path = tmp_path / "one.tar"
    docker_archive(path, {"app:1": {"file": b"original content"}})
    path.write_bytes(path.read_bytes().replace(b"original content", b"tampered content"))
    source = DockerArchiveSource(path)
    with pytest.raises(DigestMismatch, match=source.layers[0].digest):
        read_layer(source)


@pytest.mark.parametrize("members, message", [
    ({"other": b"x"}, "no manifest.json"),
    ({"manifest.json": b"{oops"}, "not valid JSON"),
    ({"manifest.json": b"[]"}, "non-empty list"),
    ({"manifest.json": b'[{"Config": 5}]'}, "lacks a Config name"),
    ({"manifest.json": b'[{"Config": "c.json", "Layers": []}]'}, "has no file 'c.json'"),
    ({"manifest.json": b'[{"Config": "c.json", "Layers": ["l.tar"]}]', "c.json": b'{"rootfs": {"diff_ids": []}}'},
     "lists 1 layers but the config has 0"),
])
def test_broken_docker_archives_name_the_problem(tmp_path, members, message):
    path = tmp_path / "broken.tar"
    path.write_bytes(tar_of(members))
    with pytest.raises(RegistryError, match=message):
        open_source(f"docker-archive:{path}")


def test_not_a_tar_at_all(tmp_path):
    path = tmp_path / "random.tar"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(RegistryError, match="not a readable tar archive"):
        open_source(f"docker-archive:{path}")
    with pytest.raises(InvalidManifest, match="does not exist or is not a file"):
        DockerArchiveSource(tmp_path)
