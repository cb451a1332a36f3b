"""The store generation: one counter that every write to an API-visible table bumps, in the writer's own
transaction, by database triggers (migration 0011), so writes from any process count: another `crscan serve`
replica, a worker finishing a scan, the CLI, hand-written SQL.

A reader that caches answers (`crscan.api.response_cache`) reads the counter before it reads the data and
serves a cached answer only while the counter still has the value read before that answer was computed: a
write committed since then has changed it (SQLite: the trigger runs inside the write transaction; PostgreSQL:
a deferred trigger bumps it once per transaction, at commit, so concurrent writers never wait on it mid-way).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

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

    def read(self) -> int:
        """The counter now, in its own short transaction (a fresh snapshot on both backends); a raw pooled
        connection, as this runs once per cached read."""
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(_READ)
            row = cursor.fetchone()
            cursor.close()
        finally:
            connection.close()  # the pool rolls back: the next read starts a new snapshot
        if row is None:
            raise LookupError("store_generation has no row")
        return int(row[0])

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
