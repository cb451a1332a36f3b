"""`host[:port]/repo[:tag|@digest]` — an image pulled from a registry; an index resolves to one platform."""

from __future__ import annotations

from typing import BinaryIO

from crscan.registry.client import RegistryClient
from crscan.registry.interface import ImageLayer, InvalidManifest
from crscan.registry.manifest import (
    DEFAULT_PLATFORM,
    MAX_CONFIG_BYTES,
    ImageManifest,
    Platform,
    pair_layers,
    parse_config,
    parse_manifest,
    parse_platform,
    select_platform,
)
from crscan.registry.reference import ImageReference
from crscan.registry.sources.base import ResolvedImageSource

MAX_INDEX_DEPTH = 2


class RegistryImageSource(ResolvedImageSource):
    """Resolves the manifest and config eagerly; layers are streamed on demand through `client`."""

    def __init__(self, client: RegistryClient, reference: ImageReference, *,
                 platform: str | Platform = DEFAULT_PLATFORM, owns_client: bool = False) -> None:
        self.client = client
        self.image = reference
        self._reference = str(reference)
        self._owns_client = owns_client
        wanted = platform if isinstance(platform, Platform) else parse_platform(platform)
        repository = reference.repository
        try:
            fetched = client.get_manifest(repository, reference.reference)
            self.index_digest = ""
            for _ in range(MAX_INDEX_DEPTH + 1):
                what = f"manifest {reference.registry}/{repository}@{fetched.digest}"
                manifest = parse_manifest(fetched.content, fetched.media_type, what)
                if isinstance(manifest, ImageManifest):
                    break
                self.index_digest = self.index_digest or fetched.digest
                chosen = select_platform(manifest, wanted, f"index {reference}")
                fetched = client.get_manifest(repository, chosen.digest)
            else:
                raise InvalidManifest(f"{reference}: indexes nested deeper than {MAX_INDEX_DEPTH}")
            self._digest = fetched.digest
            self.media_type = manifest.media_type
            config_bytes = client.read_blob(repository, manifest.config.digest, size=manifest.config.size,
                                            limit=MAX_CONFIG_BYTES, what="config")
            self._config = parse_config(config_bytes, f"config {manifest.config.digest} of {reference}")
            self._layers = pair_layers(manifest.layers, self._config, what)
        except BaseException:
            self.close()
            raise

    def open_layer(self, layer: ImageLayer) -> BinaryIO:
        return self.client.open_blob(self.image.repository, layer.digest, size=layer.size, what="layer")

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
