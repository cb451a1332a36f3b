"""Engines for the two supported backends, and the Alembic upgrade run from inside the package."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from crscan.store.interface import StoreError

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(database_url: str) -> Engine:
    """An engine for `sqlite:///PATH` or `postgresql+psycopg://…`; anything else is refused by name."""
    try:
        url = make_url(database_url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise StoreError(f"database URL is malformed: {exc}") from None
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise StoreError("database URL must name a SQLite file: an in-memory database is not shared")
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, _record: object) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE relies on it
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
            cursor.close()

        return engine
    if url.get_backend_name() == "postgresql":
        if url.get_driver_name() != "psycopg":
            raise StoreError(
                f"database URL uses driver {url.get_driver_name()!r}: use postgresql+psycopg://… (psycopg 3)"
            )
        # No pre-ping: it costs a round trip per request; a dropped connection is discarded on its first error.
        return create_engine(url, pool_size=10, max_overflow=20, pool_recycle=3600)
    raise StoreError(
        f"database URL scheme {url.drivername!r} is not supported: use sqlite:///PATH or postgresql+psycopg://…"
    )


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (`alembic upgrade head`) with the package's migrations."""
    config = Config()
    config.set_main_option("script_location", "crscan.store:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
