"""A `LayerIndexCache` in the database, so every worker of an installation shares what any of them indexed."""

from __future__ import annotations

from crscan.scan.cache import LayerIndexCache
from crscan.scan.layer_index import LayerIndex, decode, encode
from crscan.store import Store
from crscan.store import jobs as stored


class StoreCache(LayerIndexCache):
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, digest: str, key: str) -> LayerIndex | None:
        data = stored.get_layer_index(self.store, digest, key)
        if data is None:
            return None
        try:
            index = decode(data)
        except ValueError:
            return None  # written by an incompatible version: index the layer again
        return index if index.layer.digest == digest else None

    def put(self, digest: str, key: str, index: LayerIndex) -> None:
        stored.put_layer_index(self.store, digest, key, encode(index))
