"""The layer reader's contract: what a file selector is, and the one error every failed read raises.

Every problem with a layer's bytes ends the read with a `LayerError` subclass whose message names the problem
and the layer digest, e.g. ``layer sha256:ab…: path escapes the image root: '../../etc/passwd'``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class FileSelector(ABC):
    """Decides which entries of a layer are kept (with their bytes) while the layer streams past."""

    @abstractmethod
    def __call__(self, path: str, mode: int, size: int) -> bool:
        """`path` is normalised and absolute; `mode` is a full st_mode (file type bits included)."""


class LayerError(Exception):
    """A layer could not be read safely. `problem` names the kind, `detail` the specifics."""

    problem = "unreadable layer"

    def __init__(self, detail: str, layer_digest: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.layer_digest = layer_digest

    def __str__(self) -> str:
        where = f"layer {self.layer_digest}: " if self.layer_digest else ""
        return f"{where}{self.problem}: {self.detail}"


class UnsupportedCompression(LayerError):
    problem = "unsupported compression"


class CorruptStream(LayerError):
    problem = "corrupt compressed stream"


class TruncatedLayer(LayerError):
    problem = "truncated layer"


class BadTarHeader(LayerError):
    problem = "bad tar header"


class UnsafePath(LayerError):
    problem = "unsafe path"


class DeviceFile(LayerError):
    problem = "device file in layer"


class ReadCancelled(LayerError):
    """Raised inside a layer read stopped because another layer of the same image failed."""

    problem = "read cancelled"


class LimitExceeded(LayerError):
    """A configured `Limits` bound was crossed; the subclass says which."""

    problem = "limit exceeded"


class LayerTooLarge(LimitExceeded):
    problem = "layer too large"


class ImageTooLarge(LimitExceeded):
    problem = "image too large"


class DecompressionBomb(LimitExceeded):
    problem = "decompression ratio too high (decompression bomb?)"


class TooManyEntries(LimitExceeded):
    problem = "too many tar entries"


class PathTooLong(LimitExceeded):
    problem = "path too long"


class PickedTooMuch(LimitExceeded):
    problem = "picked files exceed the in-memory budget"


class LinkLoop(LayerError):
    problem = "link loop"


class LinkTooDeep(LimitExceeded):
    problem = "link chain too deep"


class LinkEscapesRoot(UnsafePath):
    problem = "link points outside the image root"
