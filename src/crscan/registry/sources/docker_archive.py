"""`docker-archive:PATH[:name:tag]` — a `docker save` (or `skopeo copy … docker-archive:`) tarball.

Such an archive has no registry manifest: its `manifest.json` names a config file and layer tars, which are
usually stored uncompressed. The source reports the config digest (the image ID) as its digest, and a layer's
digest is the digest of the member as stored — named in its path by skopeo (`<hex>.tar`) and Docker ≥ 25
(`blobs/sha256/<hex>`), equal to the diff_id otherwise (older Docker's `<v1 id>/layer.tar`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, BinaryIO

from crscan.model import LayerRef
from crscan.registry.digest import digest_of
from crscan.registry.interface import ImageLayer, InvalidManifest, ManifestUnknown
from crscan.registry.manifest import MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, load_json_document, parse_config
from crscan.registry.sources.archive import TarMembers
from crscan.registry.sources.base import ResolvedImageSource, verified_layer_stream

UNCOMPRESSED_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
_CONTENT_ADDRESSED = re.compile(r"^(?:blobs/sha256/([0-9a-f]{64})|([0-9a-f]{64})\.tar)$")


class DockerArchiveSource(ResolvedImageSource):
    def __init__(self, path: Path, name: str = "", *, reference: str = "") -> None:
        self.path = Path(path)
        self._reference = reference or f"docker-archive:{path}{':' + name if name else ''}"
        if not self.path.is_file():
            raise InvalidManifest(f"docker archive {path} does not exist or is not a file")
        self._members = TarMembers(self.path, "docker archive")
        if "manifest.json" not in self._members:
            raise InvalidManifest(f"{path} is not a docker save archive: it has no manifest.json")
        entry = self._pick(self._members.read("manifest.json", MAX_MANIFEST_BYTES), name)
        config_name, layer_names = entry.get("Config"), entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list) or \
                not all(isinstance(n, str) for n in layer_names):
            raise InvalidManifest(f"{path}: manifest.json entry lacks a Config name or a Layers list")
        config_bytes = self._members.read(config_name, MAX_CONFIG_BYTES)
        self._digest = digest_of(config_bytes)
        self._config = parse_config(config_bytes, f"config {config_name} in {path}")
        diff_ids = self._config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(layer_names):
            raise InvalidManifest(
                f"{path}: manifest.json lists {len(layer_names)} layers but the config has {len(diff_ids)} diff_ids"
            )
        self._layer_names: dict[str, str] = {}
        layers = []
        for layer_name, diff_id in zip(layer_names, diff_ids, strict=True):
            named = _CONTENT_ADDRESSED.match(layer_name.removeprefix("./"))
            digest = f"sha256:{named.group(1) or named.group(2)}" if named else diff_id
            self._layer_names[digest] = layer_name
            layers.append(ImageLayer(LayerRef(digest, diff_id), UNCOMPRESSED_LAYER, self._members.size(layer_name)))
        self._layers = tuple(layers)

    def _pick(self, manifest_json: bytes, name: str) -> dict[str, Any]:
        document = load_json_document(b'{"images": %s}' % manifest_json, f"{self.path}: manifest.json")
        images: list[dict[str, Any]] = document["images"]
        if not isinstance(images, list) or not images or not all(isinstance(i, dict) for i in images):
            raise InvalidManifest(f"{self.path}: manifest.json is not a non-empty list of images")
        if name:
            for image in images:
                if name in (image.get("RepoTags") or []):
                    return image
            tags = [t for image in images for t in image.get("RepoTags") or []]
            raise ManifestUnknown(f"docker archive {self.path} has no image {name!r}; it has: {', '.join(tags)}")
        if len(images) > 1:
            tags = [t for image in images for t in image.get("RepoTags") or []]
            raise ManifestUnknown(f"docker archive {self.path} holds {len(images)} images; name one with "
                                  f"docker-archive:{self.path}:NAME:TAG ({', '.join(tags)})")
        return images[0]

    def open_layer(self, layer: ImageLayer) -> BinaryIO:
        name = self._layer_names.get(layer.digest)
        if name is None:
            raise ManifestUnknown(f"docker archive {self.path} has no layer {layer.digest}")
        return verified_layer_stream(self._members.chunks(name), layer, f"layer {name} in {self.path}")
