"""The service's feed DB kept current without a manual step: built at start when missing, refreshed on a schedule.

After every build that changed the DB, each stored inventory is re-matched through the ordinary rescan path
(one queued re-match scan per image), so results follow the feeds as `crscan rescan --all` would. A DB that cannot
serve (not a feed DB, another schema version, failing SQLite's integrity check: what `/readyz` reports) is rebuilt
from every source at start and at each refresh, never copied from.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from crscan.store import NotFound, Store
from crscan.vulndb import FeedDB, update
from crscan.vulndb.interface import FeedDBError, VulnDBError

log = logging.getLogger("crscan.feeds")


class FeedKeeper:
    """A daemon thread building `path` from `mirror` (empty: upstream) now if missing, then every `interval` s."""

    def __init__(self, store: Store, path: Path, mirror: str, *, interval: float,
                 wake: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.path = path
        self.mirror = mirror
        self.interval = interval
        self.wake = wake
        self._state = "not started"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crscan-feeds", daemon=True)

    @property
    def source(self) -> str:
        return f"mirror {self.mirror}" if self.mirror else "upstream"

    def state(self) -> str:
        """What the keeper is doing or last did, for `/readyz` while there is no usable feed DB."""
        with self._lock:
            return self._state

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops the schedule; a build under way is abandoned with the process (its temp file is swept next time)."""
        self._stop.set()

    def _set(self, state: str) -> None:
        with self._lock:
            self._state = state

    def _run(self) -> None:
        if not self.path.is_file() or self._damage():
            self.refresh()
        while not self._stop.wait(self.interval):
            self.refresh()

    def refresh(self) -> bool:
        """One build; True when the DB changed (and the re-matches were queued). Failures are logged, not raised."""
        damage = self._damage()
        if damage:  # its unchanged sources would be copied from damaged pages: parse every one again
            log.warning("feed DB %s cannot serve (%s): rebuilding every source", self.path, damage)
        self._set(f"building the feed DB from {self.source}")
        log.info("feed DB %s: updating from %s", self.path, self.source)
        started = time.monotonic()

        def progress(number: int, total: int, step: str) -> None:
            self._set(f"building the feed DB from {self.source}: step {number}/{total}, {step}")
            log.info("feed DB: step %d/%d, %s", number, total, step)

        try:
            report = update(self.path, self.mirror or None, force=bool(damage), progress=progress)
        except (VulnDBError, OSError) as e:
            self._set(f"feed DB update from {self.source} failed: {e}")
            log.error("feed DB %s: update from %s failed: %s", self.path, self.source, e)
            return False
        except Exception as e:  # e.g. network errors from httpx: the schedule must keep running
            self._set(f"feed DB update from {self.source} failed: {type(e).__name__}: {e}")
            log.exception("feed DB %s: update from %s failed", self.path, self.source)
            return False
        seconds = time.monotonic() - started
        if not report.rebuilt:
            self._set(f"feed DB unchanged at {self.source} (build {report.build_id})")
            log.info("feed DB %s: unchanged (build %s, %.1f s)", self.path, report.build_id, seconds)
            return False
        rows = sum(s.rows for s in report.sources)
        self._set(f"feed DB built from {self.source} (build {report.build_id})")
        log.info("feed DB %s: built %s from %s: %d sources, %d rows in %.1f s", self.path, report.build_id,
                 self.source, len(report.sources), rows, seconds)
        self._rematch()
        return True

    def _damage(self) -> str:
        """Why the DB at `path` cannot serve (not a feed DB, another schema, SQLite's integrity complaint); ""
        when it is sound or missing."""
        if not self.path.is_file():
            return ""
        try:
            with FeedDB.open(self.path) as feeds:
                return feeds.integrity_error()
        except FeedDBError as e:
            return str(e)

    def _rematch(self) -> None:
        queued = 0
        for image_id in self.store.inventories.image_ids():
            try:
                # One RUNNING scan per image (as `crscan rescan`): an image scanning now is joined, not counted.
                queued += self.store.scans.enqueue_or_join(image_id, rematch=True)[1]
            except NotFound:  # deleted since the listing; the others still follow the feeds
                log.info("image %s deleted before its re-match was queued", image_id)
        log.info("feed DB changed: queued %d re-match scans", queued)
        if queued:
            self.wake()
