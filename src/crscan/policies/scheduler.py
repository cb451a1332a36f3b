"""The rescan scheduler: a thread in `crscan serve` queuing re-matches of images scheduled rules select."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from crscan.policies.rules import due_for_rescan
from crscan.store import NotFound, Store

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0


def rescan_due(store: Store) -> int:
    """Queue a re-match of every image due for rescan; returns how many were queued."""
    queued = 0
    for image_id in due_for_rescan(store):
        try:
            store.scans.enqueue(image_id, rematch=True)
        except NotFound:
            continue  # deleted since it was selected
        queued += 1
    return queued


class Scheduler:
    """Checks the scheduled rules every `interval` seconds until stopped."""

    def __init__(self, store: Store, *, interval: float = DEFAULT_INTERVAL, wake: Callable[[], None] | None = None):
        self.store = store
        self.interval = interval
        self.wake = wake
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crscan-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                queued = rescan_due(self.store)
            except Exception:  # e.g. the database is briefly unreachable; try again next tick
                log.exception("scheduled rescans failed")
                continue
            if queued:
                log.info("queued %d scheduled rescans", queued)
                if self.wake is not None:
                    self.wake()
