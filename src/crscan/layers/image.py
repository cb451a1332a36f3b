"""Read every layer of an image and merge them: the one-call form of `read_layer` + `merge`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from crscan.layers.decompress import Budget
from crscan.layers.interface import FileSelector
from crscan.layers.limits import Limits
from crscan.layers.merge import merge
from crscan.layers.reader import _read_layer
from crscan.model import ImageFile, LayerRef


def read_image(
    layers_with_streams: Iterable[tuple[LayerRef, BinaryIO]], select: FileSelector, limits: Limits | None = None
) -> dict[str, ImageFile]:
    """Layers in manifest order (bottom first). The iterable is consumed lazily, so a generator can open each
    blob only when its turn comes; streams are not closed here. `Limits.max_image_bytes` and
    `max_picked_bytes` apply to the image as a whole."""
    limits = limits or Limits()
    budget = Budget()
    contents = [_read_layer(layer, stream, select, limits, budget) for layer, stream in layers_with_streams]
    return merge(contents, limits)
