"""Start-up shared by the long-running verbs (`serve`, `worker`): settings, signals, database, scan workers.

Each step that fails prints `crscan <verb>: error: …` and exits (2: fix the configuration, 1: the database).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from crscan.config import ConfigError, Settings, configure_logging

if TYPE_CHECKING:  # the store and job stack are heavy; the other verbs do not import them
    from crscan.jobs.service import Background
    from crscan.store import Store


def fail(verb: str, message: object, code: int) -> NoReturn:
    typer.echo(f"crscan {verb}: error: {message}", err=True)
    raise typer.Exit(code) from None


def resolve_settings(verb: str, flags: dict[str, Any], config_file: Path | None) -> Settings:
    """Settings from the config file, env and flags, with logging configured as they say."""
    try:
        settings = Settings.resolve(flags, config_file=config_file)
        configure_logging(settings.log_level, settings.log_format)
    except ConfigError as e:
        fail(verb, e, 2)
    return settings


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for the main thread to wait on before shutting down."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, frame: stop.set())
    return stop


def open_store(verb: str, settings: Settings, *, create_data_dir: bool = False) -> Store:
    """The migrated store; an unreachable or broken database exits with its first line of error."""
    from sqlalchemy.exc import SQLAlchemyError

    from crscan.api.messages import OPERATION_CODEC
    from crscan.store import Store, StoreError

    try:
        if create_data_dir:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.effective_database_url, OPERATION_CODEC)
        store.migrate()
    except (OSError, StoreError, SQLAlchemyError) as e:
        logging.getLogger(f"crscan.{verb}").debug("database setup failed", exc_info=True)
        summary = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        fail(verb, f"cannot prepare the database: {summary}", 1)
    return store


def start_workers(verb: str, store: Store, settings: Settings, *, with_scheduler: bool) -> Background:
    """The scan workers (and, with the scheduler, rescans and syncs); the store is closed if they cannot start."""
    from crscan.jobs.interface import JobError
    from crscan.jobs.service import start_background

    try:
        return start_background(store, settings, with_scheduler=with_scheduler)
    except JobError as e:
        store.close()
        fail(verb, e, 2)
