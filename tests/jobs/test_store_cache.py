"""StoreCache lets one thread index a layer while the others wait for its result."""

from __future__ import annotations

import threading

from crscan.api.messages import OPERATION_CODEC
from crscan.jobs.store_cache import StoreCache
from crscan.store import Store

DIGEST = "sha256:" + "1" * 64


class _SlowStoreCache(StoreCache):
    """Every thread reads the store at the same moment: the window in which two could both claim the layer."""

    def __init__(self, store: Store, readers: int) -> None:
        super().__init__(store)
        self._reading = threading.Barrier(readers)

    def _load(self, digest, key):
        found = super()._load(digest, key)
        self._reading.wait(timeout=10)
        return found


def test_two_threads_missing_the_same_layer_at_once_leave_it_to_one(tmp_path, test_images):
    from crscan.catalog import default_catalogers
    from crscan.registry import open_source
    from crscan.scan.pipeline import index_layers

    with open_source(test_images["bookworm"].oci_ref) as source:
        index = index_layers(source, default_catalogers())[-1]
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    cache = _SlowStoreCache(store, readers=2)
    answers: dict[str, object] = {}

    def scan(name: str) -> None:
        found = cache.get(DIGEST, "k")
        if found is None:  # this thread indexes the layer; the other must wait for it, not pull it too
            answers[name] = "indexes"
            cache.put(DIGEST, "k", index)
        else:
            answers[name] = found

    threads = [threading.Thread(target=scan, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(map(str, answers.values())).count("indexes") == 1
    assert [v for v in answers.values() if v != "indexes"] == [index]
    store.close()
