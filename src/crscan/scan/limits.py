"""Image-level bounds judged from the manifest alone, before a single layer is pulled.

Yandex Cloud Container Registry refuses images with more than 127 layers or over 2 GB compressed; an image
past either bound cannot come from there and is refused here without spending bandwidth on it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from crscan.layers.interface import LimitExceeded
from crscan.registry.interface import ImageSource

GB = 1000**3


class TooManyLayers(LimitExceeded):
    problem = "too many layers"


class CompressedImageTooLarge(LimitExceeded):
    problem = "image too large (compressed)"


@dataclass(frozen=True)
class ImageLimits:
    max_layers: int = 127
    # Sum of the manifest's layer sizes, as blobs are stored; Yandex counts 2 GB in decimal units.
    max_compressed_bytes: int = 2 * GB

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"ImageLimits.{f.name} must be a positive integer, got {value!r}")


def check_image(source: ImageSource, limits: ImageLimits) -> None:
    """Raise if the manifest already shows the image is past a bound; reads no layer."""
    layers = source.layers
    if len(layers) > limits.max_layers:
        raise TooManyLayers(
            f"image {source.reference} has {len(layers)} layers; at most {limits.max_layers} are scanned"
        )
    compressed = sum(layer.size for layer in layers)
    if compressed > limits.max_compressed_bytes:
        raise CompressedImageTooLarge(
            f"image {source.reference} has {compressed:,} compressed bytes in its manifest;"
            f" at most {limits.max_compressed_bytes:,} are scanned"
        )
