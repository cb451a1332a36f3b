"""Image-level limits are judged from the manifest: an image past them fails before any layer is opened."""

from __future__ import annotations

import pytest

from crscan.catalog import default_catalogers
from crscan.layers.interface import LimitExceeded
from crscan.model import LayerRef
from crscan.registry.interface import ImageLayer, ImageSource
from crscan.scan.limits import CompressedImageTooLarge, ImageLimits, TooManyLayers, check_image
from crscan.scan.pipeline import index_layers


GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class ManifestOnly(ImageSource):
    """An image known only by its manifest's layer list; opening a layer is a test failure."""

    def __init__(self, sizes: list[int]) -> None:
        self._layers = tuple(
            ImageLayer(LayerRef(f"sha256:{i:064x}", f"sha256:{i + 1:064x}"), GZIP_LAYER, size)
            for i, size in enumerate(sizes)
        )

    reference = "registry.local/app:1"
    digest = "sha256:" + "f" * 64
    config: dict = {}

    @property
    def layers(self) -> tuple[ImageLayer, ...]:
        return self._layers

    def open_layer(self, layer):
        raise AssertionError(f"layer {layer.digest} was opened")


def test_yandex_bounds_are_the_defaults():
    assert (ImageLimits().max_layers, ImageLimits().max_compressed_bytes) == (127, 2_000_000_000)


def test_images_at_the_bounds_pass():
    check_image(ManifestOnly([1] * 127), ImageLimits())
    check_image(ManifestOnly([1_000_000_000, 1_000_000_000]), ImageLimits())


def test_128_layers_fail_before_any_layer_is_opened():
    with pytest.raises(TooManyLayers) as caught:
        index_layers(ManifestOnly([100] * 128), default_catalogers())
    assert str(caught.value) == "too many layers: image registry.local/app:1 has 128 layers; at most 127 are scanned"
    assert isinstance(caught.value, LimitExceeded)


def test_one_byte_over_2_gb_fails_before_any_layer_is_opened():
    with pytest.raises(CompressedImageTooLarge) as caught:
        index_layers(ManifestOnly([1_500_000_000, 500_000_001]), default_catalogers())
    assert str(caught.value) == (
        "image too large (compressed): image registry.local/app:1 has 2,000,000,001 compressed bytes in its"
        " manifest; at most 2,000,000,000 are scanned"
    )


def test_limits_are_configurable():
    with pytest.raises(TooManyLayers):
        check_image(ManifestOnly([1, 1, 1]), ImageLimits(max_layers=2))
    with pytest.raises(CompressedImageTooLarge):
        check_image(ManifestOnly([10, 10]), ImageLimits(max_compressed_bytes=19))


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "127"])
def test_limits_must_be_positive_integers(value):
    with pytest.raises(ValueError, match="ImageLimits.max_layers must be a positive integer"):
        ImageLimits(max_layers=value)
