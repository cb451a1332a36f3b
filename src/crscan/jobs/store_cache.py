"""A `LayerIndexCache` in the database, so every worker of an installation shares what any of them indexed.

Within one process it also keeps recently used indexes decoded (images sharing a base layer read it once), and
lets only one thread index a given layer at a time: the others wait for its result instead of pulling the same
blob in parallel.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from crscan.scan.cache import LayerIndexCache
from crscan.scan.layer_index import LayerIndex, decode, encode
from crscan.store import Store

DEFAULT_MEMORY_ENTRIES = 32
INDEXING_WAIT_SECONDS = 600.0  # longer than any one layer takes; a crashed indexer is released by `release`


class StoreCache(LayerIndexCache):
    def __init__(self, store: Store, memory_entries: int = DEFAULT_MEMORY_ENTRIES) -> None:
        self.store = store
        self.memory_entries = memory_entries
        self._decoded: OrderedDict[tuple[str, str], LayerIndex] = OrderedDict()
        self._indexing: dict[tuple[str, str], int] = {}  # (digest, key) → thread id indexing it now
        self._changed = threading.Condition()

    def get(self, digest: str, key: str) -> LayerIndex | None:
        """The index; None means "not cached, index it yourself" — and the caller must then `put` or `release`."""
        slot, me = (digest, key), threading.get_ident()
        while True:
            with self._changed:
                while slot not in self._decoded and self._indexing.get(slot, me) != me:
                    self._changed.wait(INDEXING_WAIT_SECONDS)
                if slot in self._decoded:
                    self._decoded.move_to_end(slot)
                    return self._decoded[slot]
            index = self._load(digest, key)
            with self._changed:
                if index is not None:
                    self._remember(slot, index)
                    return index
                # Claim the layer only if no other thread did while this one read the store (both would pull it).
                if slot not in self._decoded and self._indexing.setdefault(slot, me) == me:
                    return None

    def put(self, digest: str, key: str, index: LayerIndex) -> None:
        self.store.layer_cache.put(digest, key, encode(index))
        with self._changed:
            self._remember((digest, key), index)
            self._indexing.pop((digest, key), None)
            self._changed.notify_all()

    def release(self) -> None:
        """Give up the layers this thread was to index (its scan failed), so waiting threads try themselves."""
        me = threading.get_ident()
        with self._changed:
            for slot in [s for s, owner in self._indexing.items() if owner == me]:
                del self._indexing[slot]
            self._changed.notify_all()

    def _load(self, digest: str, key: str) -> LayerIndex | None:
        data = self.store.layer_cache.get(digest, key)
        if data is None:
            return None
        try:
            index = decode(data)
        except ValueError:
            return None  # written by an incompatible version: index the layer again
        return index if index.layer.digest == digest else None

    def _remember(self, slot: tuple[str, str], index: LayerIndex) -> None:
        self._decoded[slot] = index
        self._decoded.move_to_end(slot)
        while len(self._decoded) > self.memory_entries:
            self._decoded.popitem(last=False)
