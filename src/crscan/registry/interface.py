"""What the rest of crscan sees of an image, wherever it comes from (registry, `docker save` tar, OCI layout)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, BinaryIO

from crscan.model import LayerRef


class RegistryError(Exception):
    """Base of every error this package raises; the message names the image, digest or URL at fault."""


class InvalidReference(RegistryError):
    """An image reference string that cannot be parsed."""


class ManifestUnknown(RegistryError):
    """The repository, tag or manifest digest does not exist."""


class BlobUnknown(RegistryError):
    """A config or layer blob named by a manifest is missing."""


class UnsupportedMediaType(RegistryError):
    """A manifest, config or layer of a kind crscan cannot scan (Docker schema 1, non-image artifacts, …)."""


class InvalidManifest(RegistryError):
    """A manifest, index or config that is not well-formed (bad JSON, missing fields, too large)."""


class PlatformNotFound(RegistryError):
    """A multi-platform index without the requested os/arch[/variant]."""


class DigestMismatch(RegistryError):
    """Content did not hash to the digest it was fetched by."""

    def __init__(self, expected: str, actual: str, what: str = "content") -> None:
        super().__init__(f"digest mismatch for {what} {expected}: content hashes to {actual}")
        self.expected = expected
        self.actual = actual


class AuthError(RegistryError):
    """The registry or its token service refused the credentials (or their absence)."""


class OperationRefused(RegistryError):
    """The registry does not allow the operation at all (HTTP 405 / UNSUPPORTED), e.g. deletes disabled."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached or kept failing after retries."""


@dataclass(frozen=True)
class ImageLayer:
    """A layer as the manifest lists it: its refs, the blob media type and the compressed size."""

    ref: LayerRef
    media_type: str
    size: int

    @property
    def digest(self) -> str:
        return self.ref.digest

    @property
    def diff_id(self) -> str:
        return self.ref.diff_id


class ImageSource(abc.ABC):
    """One resolved single-platform image. Use as a context manager; `close()` releases files/connections."""

    @property
    @abc.abstractmethod
    def reference(self) -> str:
        """The reference the source was opened with, as the user wrote it."""

    @property
    @abc.abstractmethod
    def digest(self) -> str:
        """The digest of the resolved (single-platform) manifest."""

    @property
    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """The image config JSON (`architecture`, `os`, `config`, `rootfs.diff_ids`, `history`, …)."""

    @property
    @abc.abstractmethod
    def layers(self) -> tuple[ImageLayer, ...]:
        """Layers bottom to top, each paired with its diff_id from the config."""

    @abc.abstractmethod
    def open_layer(self, layer: ImageLayer) -> BinaryIO:
        """A stream of the layer blob as stored (usually compressed); raises DigestMismatch at EOF if it
        does not hash to `layer.digest`."""

    @property
    def platform(self) -> str:
        """`os/arch[/variant]` from the config."""
        parts = [self.config.get("os", ""), self.config.get("architecture", "")]
        if self.config.get("variant"):
            parts.append(self.config["variant"])
        return "/".join(parts)

    def close(self) -> None:  # noqa: B027 - sources without resources need no cleanup
        """Release what the source holds open."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
