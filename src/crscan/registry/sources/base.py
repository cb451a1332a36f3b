"""What every source shares once its manifest is resolved: the fixed image facts and verified layer streams."""

from __future__ import annotations

import io
from collections.abc import Generator
from typing import Any, BinaryIO

from crscan.registry.digest import VerifyingReader
from crscan.registry.interface import ImageLayer, ImageSource
from crscan.registry.sources.archive import CHUNK


class ResolvedImageSource(ImageSource):
    """A source that resolves everything when opened: its `__init__` sets `_reference`, `_digest`, `_config`
    and `_layers`, which never change afterwards."""

    _reference: str
    _digest: str
    _config: dict[str, Any]
    _layers: tuple[ImageLayer, ...]

    @property
    def reference(self) -> str:
        return self._reference

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def config(self) -> dict[str, Any]:
        return self._config

    @property
    def layers(self) -> tuple[ImageLayer, ...]:
        return self._layers


def verified_layer_stream(chunks: Generator[bytes, None, None], layer: ImageLayer, what: str) -> BinaryIO:
    """A buffered stream of a locally stored layer that fails at EOF unless it hashes to `layer.digest`;
    closing it closes `chunks` and so the file behind them."""
    return io.BufferedReader(
        VerifyingReader(chunks, layer.digest, size=layer.size, what=what, on_close=chunks.close),
        buffer_size=CHUNK,
    )
