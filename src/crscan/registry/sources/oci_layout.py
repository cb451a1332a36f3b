"""`oci:PATH[:tag]` — an OCI image layout, as a directory or as a plain tar of one."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any, BinaryIO

from crscan.registry.digest import validate_digest, verify_bytes
from crscan.registry.interface import (
    BlobUnknown,
    ImageLayer,
    InvalidManifest,
    ManifestUnknown,
    RegistryError,
)
from crscan.registry.manifest import (
    DEFAULT_PLATFORM,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageIndex,
    ImageManifest,
    Platform,
    load_json_document,
    pair_layers,
    parse_config,
    parse_manifest,
    parse_platform,
    select_platform,
)
from crscan.registry.sources.archive import CHUNK, TarMembers
from crscan.registry.sources.base import ResolvedImageSource, verified_layer_stream

REF_NAME = "org.opencontainers.image.ref.name"
MAX_INDEX_DEPTH = 2


class _DirectoryBlobs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def size(self, name: str) -> int:
        return (self.root / name).stat().st_size

    def chunks(self, name: str) -> Generator[bytes, None, None]:
        with open(self.root / name, "rb") as file:
            while chunk := file.read(CHUNK):
                yield chunk


class _TarBlobs:
    def __init__(self, members: TarMembers) -> None:
        self.members = members

    def exists(self, name: str) -> bool:
        return name in self.members

    def size(self, name: str) -> int:
        return self.members.size(name)

    def chunks(self, name: str) -> Generator[bytes, None, None]:
        return self.members.chunks(name)


class OciLayoutSource(ResolvedImageSource):
    def __init__(self, path: Path, tag: str = "", *, platform: str | Platform = DEFAULT_PLATFORM,
                 reference: str = "") -> None:
        self.path = Path(path)
        self._reference = reference or f"oci:{path}{':' + tag if tag else ''}"
        if self.path.is_dir():
            self._files: _DirectoryBlobs | _TarBlobs = _DirectoryBlobs(self.path)
        elif self.path.is_file():
            self._files = _TarBlobs(TarMembers(self.path, "OCI layout archive"))
        else:
            raise RegistryError(f"OCI layout {path} does not exist")
        if not self._files.exists("index.json"):
            raise RegistryError(f"{path} is not an OCI image layout: it has no index.json")
        wanted = platform if isinstance(platform, Platform) else parse_platform(platform)
        raw_index = self._read("index.json", MAX_MANIFEST_BYTES)
        index = load_json_document(raw_index, f"{path}/index.json")
        document = parse_manifest(raw_index, "", f"{path}/index.json")
        if not isinstance(document, ImageIndex):
            raise InvalidManifest(f"{path}/index.json is not an image index")
        descriptor = self._pick(index, document, tag)
        for _ in range(MAX_INDEX_DEPTH + 1):
            what = f"manifest {descriptor.digest} in {path}"
            content = self._read_blob(descriptor.digest, MAX_MANIFEST_BYTES, what)
            manifest = parse_manifest(content, descriptor.media_type, what)
            if isinstance(manifest, ImageManifest):
                break
            descriptor = select_platform(manifest, wanted, what)
        else:
            raise InvalidManifest(f"{path}: indexes nested deeper than {MAX_INDEX_DEPTH}")
        self._digest = descriptor.digest
        self._config = parse_config(
            self._read_blob(manifest.config.digest, MAX_CONFIG_BYTES, f"config {manifest.config.digest}"),
            f"config {manifest.config.digest} in {path}",
        )
        self._layers = pair_layers(manifest.layers, self._config, what)

    def _pick(self, raw_index: dict[str, Any], index: ImageIndex, tag: str) -> Descriptor:
        names = [(d.get("annotations") or {}).get(REF_NAME, "") for d in raw_index.get("manifests", [])]
        if tag:
            for name, descriptor in zip(names, index.manifests, strict=False):
                if name == tag:
                    return descriptor
            raise ManifestUnknown(f"OCI layout {self.path} has no tag {tag!r}; tags: {', '.join(filter(None, names))}")
        if len(index.manifests) == 1:
            return index.manifests[0]
        raise ManifestUnknown(f"OCI layout {self.path} holds {len(index.manifests)} images; name one with "
                              f"oci:{self.path}:TAG (tags: {', '.join(filter(None, names)) or 'none'})")

    def _read(self, name: str, limit: int) -> bytes:
        if self._files.size(name) > limit:
            raise InvalidManifest(f"{self.path}/{name} is larger than {limit} bytes")
        return b"".join(self._files.chunks(name))

    def _blob_name(self, digest: str) -> str:
        algorithm, hex_ = validate_digest(digest, error=InvalidManifest).split(":", 1)
        name = f"blobs/{algorithm}/{hex_}"
        if not self._files.exists(name):
            raise BlobUnknown(f"OCI layout {self.path} lacks blob {digest}")
        return name

    def _read_blob(self, digest: str, limit: int, what: str) -> bytes:
        content = self._read(self._blob_name(digest), limit)
        verify_bytes(content, digest, what)
        return content

    def open_layer(self, layer: ImageLayer) -> BinaryIO:
        return verified_layer_stream(self._files.chunks(self._blob_name(layer.digest)), layer, f"layer in {self.path}")
