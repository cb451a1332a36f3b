"""Manifest and index documents (OCI and Docker v2 schema 2), platform selection and config checks.

Pure functions over bytes: the registry client, the OCI layout and the docker-archive sources all use them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from crscan.model import LayerRef
from crscan.registry.digest import validate_digest
from crscan.registry.interface import (
    ImageLayer,
    InvalidManifest,
    PlatformNotFound,
    UnsupportedMediaType,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
IMAGE_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
ACCEPT = ", ".join((*IMAGE_MANIFESTS, *INDEXES))

CONFIG_TYPES = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")
LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
)
# manifests and configs are small; anything bigger is hostile (containerd uses the same 4 MiB bound)
MAX_MANIFEST_BYTES = 4 << 20
MAX_CONFIG_BYTES = 8 << 20
MAX_LAYERS = 1000


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(filter(None, (self.os, self.architecture, self.variant)))

    def matches(self, other: Platform) -> bool:
        """`self` is the wanted platform: an empty variant accepts the architecture's default variant."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        wanted = self.variant or _DEFAULT_VARIANT.get(self.architecture, "")
        offered = other.variant or _DEFAULT_VARIANT.get(other.architecture, "")
        return wanted == offered


# what containerd's platforms.Normalize assumes when an index omits the variant
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm"}
DEFAULT_PLATFORM = "linux/amd64"


def parse_platform(text: str) -> Platform:
    """`os/arch[/variant]`, e.g. linux/amd64, linux/arm64/v8, linux/arm/v7."""
    parts = text.strip().lower().split("/") if isinstance(text, str) else []
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise PlatformNotFound(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/amd64")
    architecture = _ARCH_ALIASES.get(parts[1], parts[1])
    return Platform(parts[0], architecture, parts[2] if len(parts) == 3 else "")


@dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True)
class ImageIndex:
    media_type: str
    manifests: tuple[Descriptor, ...]


def load_json_document(content: bytes, what: str, limit: int = MAX_MANIFEST_BYTES) -> dict[str, Any]:
    if len(content) > limit:
        raise InvalidManifest(f"{what} is {len(content)} bytes, more than the {limit} allowed")
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidManifest(f"{what} is not a JSON object")
    return document


def parse_manifest(content: bytes, media_type: str, what: str) -> ImageManifest | ImageIndex:
    """Parse a manifest or index; `media_type` is the Content-Type (or descriptor type) it came with."""
    document = load_json_document(content, what)
    declared = document.get("mediaType")
    if media_type in DOCKER_SCHEMA1 or declared in DOCKER_SCHEMA1 or document.get("schemaVersion") == 1:
        raise UnsupportedMediaType(
            f"{what} is a Docker schema 1 manifest, which is deprecated and unsupported; re-push the image with "
            "a current client (Docker v2 schema 2 or OCI)"
        )
    kind = media_type if media_type in (*IMAGE_MANIFESTS, *INDEXES) else declared
    if kind is None:  # OCI allows omitting mediaType; tell manifest from index by shape
        kind = OCI_INDEX if "manifests" in document else OCI_MANIFEST
    if kind not in (*IMAGE_MANIFESTS, *INDEXES):
        raise UnsupportedMediaType(f"{what} has unsupported media type {kind!r}; expected one of {ACCEPT}")
    if document.get("schemaVersion") != 2:
        raise InvalidManifest(f"{what} has schemaVersion {document.get('schemaVersion')!r}, expected 2")
    if kind in INDEXES:
        entries = document.get("manifests")
        if not isinstance(entries, list):
            raise InvalidManifest(f"{what} has no 'manifests' list")
        return ImageIndex(kind, tuple(_descriptor(e, f"{what} entry {i}") for i, e in enumerate(entries)))
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise InvalidManifest(f"{what} has no 'layers' list")
    if len(layers) > MAX_LAYERS:
        raise InvalidManifest(f"{what} has {len(layers)} layers, more than the {MAX_LAYERS} allowed")
    config = _descriptor(document.get("config"), f"{what} config")
    if config.media_type not in CONFIG_TYPES:
        raise UnsupportedMediaType(
            f"{what} is not a container image: config media type {config.media_type!r} (an OCI artifact?)"
        )
    parsed = tuple(_descriptor(layer, f"{what} layer {i}") for i, layer in enumerate(layers))
    for i, layer in enumerate(parsed):
        if layer.media_type not in LAYER_TYPES:
            raise UnsupportedMediaType(f"{what} layer {i} ({layer.digest}) has unsupported media type "
                                       f"{layer.media_type!r}")
    return ImageManifest(kind, config, parsed)


def _descriptor(entry: object, what: str) -> Descriptor:
    if not isinstance(entry, dict):
        raise InvalidManifest(f"{what} is not a descriptor object")
    media_type, digest, size = entry.get("mediaType"), entry.get("digest"), entry.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidManifest(f"{what} has no mediaType")
    if not isinstance(digest, str):
        raise InvalidManifest(f"{what} has no digest")
    validate_digest(digest, error=InvalidManifest)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidManifest(f"{what} ({digest}) has an invalid size {size!r}")
    platform = None
    if isinstance(entry.get("platform"), dict):
        p = entry["platform"]
        platform = Platform(str(p.get("os", "")), str(p.get("architecture", "")), str(p.get("variant", "") or ""))
    return Descriptor(media_type, digest, size, platform)


def select_platform(index: ImageIndex, wanted: Platform, what: str) -> Descriptor:
    """The index entry for `wanted`; attestation and other non-image entries are ignored."""
    candidates = [d for d in index.manifests if d.media_type in (*IMAGE_MANIFESTS, *INDEXES) or d.platform]
    for descriptor in candidates:
        if descriptor.platform and wanted.matches(descriptor.platform):
            return descriptor
    offered = sorted({str(d.platform) for d in candidates if d.platform and d.platform.os != "unknown"})
    raise PlatformNotFound(f"{what} has no image for platform {wanted}; it offers: {', '.join(offered) or 'none'}")


def parse_config(content: bytes, what: str) -> dict[str, Any]:
    config = load_json_document(content, what, MAX_CONFIG_BYTES)
    diff_ids = config.get("rootfs", {}).get("diff_ids") if isinstance(config.get("rootfs"), dict) else None
    if not isinstance(diff_ids, list):
        raise InvalidManifest(f"{what} has no rootfs.diff_ids list")
    for diff_id in diff_ids:
        validate_digest(diff_id, error=InvalidManifest)
    return config


def pair_layers(manifest_layers: tuple[Descriptor, ...], config: dict[str, Any], what: str) -> tuple[ImageLayer, ...]:
    """Zip manifest layers with the config's diff_ids, which must correspond one to one."""
    diff_ids = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(manifest_layers):
        raise InvalidManifest(
            f"{what} lists {len(manifest_layers)} layers but its config has {len(diff_ids)} diff_ids"
        )
    return tuple(
        ImageLayer(LayerRef(layer.digest, diff_id), layer.media_type, layer.size)
        for layer, diff_id in zip(manifest_layers, diff_ids, strict=True)
    )
