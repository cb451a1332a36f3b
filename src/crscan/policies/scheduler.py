"""The rescan scheduler: a thread in `crscan serve` queuing re-matches of images scheduled rules select.

On PostgreSQL several `crscan serve` replicas may share one database; only the one holding a session-level
advisory lock runs the scheduler. The lock lives on a connection the holder keeps open, so PostgreSQL releases it
when that process dies (or its connection drops), and another replica takes it at its next tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from crscan.policies.rules import due_for_rescan
from crscan.store import NotFound, Store

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0
SCHEDULER_LOCK = 0x6372736368  # pg_advisory_lock key: "crsch"; distinct from the queue's schema lock


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


class Leadership:
    """Whether this process runs the scheduler: always on SQLite (one server per file), on PostgreSQL while it
    holds the advisory lock."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection: Connection | None = None

    def held(self) -> bool:
        """Keep or try to take the lock; False when another process holds it or the database is unreachable."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                self._connection.rollback()
                return True
            except SQLAlchemyError:  # the connection, and with it the lock, is gone: compete again
                log.warning("scheduler: lost the connection holding the scheduler lock")
                self._drop()
        try:
            connection = self.engine.connect()
        except SQLAlchemyError:
            return False
        try:
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK}).scalar()
            connection.rollback()  # a session-level lock outlives the transaction; leave none open
        except SQLAlchemyError:
            connection.invalidate()
            return False
        if taken is not True:
            connection.close()
            return False
        self._connection = connection
        log.info("scheduler: this process now runs the scheduled rescans")
        return True

    def release(self) -> None:
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            # Closing the DBAPI connection (not returning it to the pool) is what releases the lock.
            self._connection.invalidate()
            self._connection.close()
            self._connection = None


class Scheduler:
    """Checks the scheduled rules every `interval` seconds until stopped."""

    def __init__(self, store: Store, *, interval: float = DEFAULT_INTERVAL, wake: Callable[[], None] | None = None):
        self.store = store
        self.interval = interval
        self.wake = wake
        self.leadership = Leadership(store.engine)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crscan-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)
        self.leadership.release()

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            if not self.leadership.held():
                continue
            try:
                queued = rescan_due(self.store)
            except Exception:  # e.g. the database is briefly unreachable; try again next tick
                log.exception("scheduled rescans failed")
                continue
            if queued:
                log.info("queued %d scheduled rescans", queued)
                if self.wake is not None:
                    self.wake()
