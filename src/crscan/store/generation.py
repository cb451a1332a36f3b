"""The store generation: one counter that every write to an API-visible table bumps, in the writer's own
transaction, by database triggers (migration 0011), so writes from any process count: another `crscan serve`
replica, a worker finishing a scan, the CLI, hand-written SQL.

A reader that caches answers (`crscan.api.response_cache`) reads the counter before it reads the data and
serves a cached answer only while the counter still has the value read before that answer was computed: a
write committed since then has changed it (SQLite: the trigger runs inside the write transaction; PostgreSQL:
a deferred trigger bumps it once per transaction, at commit, so concurrent writers never wait on it mid-way).
"""

from __future__ import annotations

import os
import sqlite3
import threading

from sqlalchemy import Engine, text

from crscan.store.engine import SQLITE_BUSY_TIMEOUT_MS

# Every table an API read shows a column of; a write to any other table (jobs, layer caches, tokens, settings)
# leaves cached answers valid. Migration 0011 creates the triggers for exactly these.
TRACKED_TABLES = ("registries", "repositories", "images", "image_layers", "scan_results", "findings",
                  "operations", "scan_policies")
SQLITE_OPERATIONS = ("insert", "update", "delete")
_READ = "SELECT value FROM store_generation"


class Generation:
    """The counter of one store's database."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._sqlite: sqlite3.Connection | None = None  # SQLite: a connection of its own, see `read`
        self._sqlite_pid = 0

    def read(self) -> int:
        """The counter now, in its own short transaction (a fresh snapshot on both backends). This runs once per
        cached read: on SQLite through a dedicated autocommit connection (a pool checkout and its reset cost
        more than the read itself), on PostgreSQL through a raw pooled connection."""
        if self._engine.dialect.name == "sqlite":
            with self._lock:
                connection = self._sqlite_connection()
                rows = connection.execute(_READ).fetchall()  # stepped to the end: no read transaction stays open
            if not rows:
                raise LookupError("store_generation has no row")
            return int(rows[0][0])
        pooled = self._engine.raw_connection()
        try:
            cursor = pooled.cursor()
            cursor.execute(_READ)
            row = cursor.fetchone()
            cursor.close()
        finally:
            pooled.close()  # the pool rolls back: the next read starts a new snapshot
        if row is None:
            raise LookupError("store_generation has no row")
        return int(row[0])

    def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None or self._sqlite_pid != os.getpid():  # a forked process opens its own
            database = self._engine.url.database
            assert database is not None  # make_engine refuses SQLite URLs without a file
            self._sqlite = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
            self._sqlite.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            self._sqlite_pid = os.getpid()
        return self._sqlite

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None and self._sqlite_pid == os.getpid():
                self._sqlite.close()
            self._sqlite = None

    def missing_triggers(self) -> list[str]:
        """The triggers of `TRACKED_TABLES` this database lacks (a SQLite table rebuilt by a later migration's
        batch_alter_table loses its triggers); empty when every write bumps the counter."""
        with self._engine.connect() as connection:
            if self._engine.dialect.name == "sqlite":
                present = set(connection.scalars(text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'store_generation_%'")))
                wanted = [sqlite_trigger_name(table, operation)
                          for table in TRACKED_TABLES for operation in SQLITE_OPERATIONS]
            else:
                present = set(connection.scalars(text(  # triggers on the tables this connection sees
                    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                    " WHERE t.tgname = 'store_generation_' || c.relname AND pg_table_is_visible(c.oid)"
                    " AND t.tgenabled <> 'D'")))
                wanted = [postgresql_trigger_name(table) for table in TRACKED_TABLES]
        return [name for name in wanted if name not in present]


def sqlite_trigger_name(table: str, operation: str) -> str:
    return f"store_generation_{table}_{operation}"


def postgresql_trigger_name(table: str) -> str:
    return f"store_generation_{table}"
