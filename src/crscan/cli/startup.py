"""Start-up shared by every verb that works on the server's data: settings, database, signals, scan workers.

Each step that fails raises `CliError` with one line naming what failed; `crscan.cli.main` prints it (exit 2).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crscan.cli.interface import CliError

if TYPE_CHECKING:  # the store and job stack are heavy; the other verbs do not import them
    from crscan.config import Settings
    from crscan.jobs.service import Background
    from crscan.store import Store

log = logging.getLogger("crscan.serve")


def resolve_settings(flags: dict[str, Any], config_file: Path | None, *, logging: bool = False) -> Settings:
    """Settings from the config file, env and flags (`None` flags are unset); with `logging`, configured as they say."""
    from crscan.config import ConfigError, Settings, configure_logging  # not at the top: `crscan --help` skips it

    try:
        settings = Settings.resolve(flags, config_file=config_file)
        if logging:
            configure_logging(settings.log_level, settings.log_format)
    except ConfigError as e:
        raise CliError(str(e)) from e
    return settings


def open_store(settings: Settings, *, create_data_dir: bool = False) -> Store:
    """The migrated store; an unreachable, corrupt or foreign database is one line naming it and the problem."""
    from sqlalchemy.exc import SQLAlchemyError

    from crscan.api.messages import OPERATION_CODEC
    from crscan.store import Store, StoreError

    store = None
    try:
        if create_data_dir:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.effective_database_url, OPERATION_CODEC)
        store.migrate()
    except (OSError, StoreError, SQLAlchemyError) as e:
        if store is not None:
            store.close()
        where = _shown(settings.effective_database_url)
        raise CliError(f"cannot open the database {where}: {_first_line(e)}") from e
    return store


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for the main thread to wait on before shutting down."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, frame: stop.set())
    return stop


def settle_heap() -> None:
    """Move what start-up made (imported modules, descriptors, templates: ~120k objects) out of the cyclic
    collector's sight: they live as long as the process, and every full collection walked them again (~65 ms each,
    the p99 tail of a console page). Collected first, so only live objects are kept; later objects are collected
    as usual."""
    gc.collect()
    gc.freeze()


def wait_for_stop(stop: threading.Event, *, parent: int | None = None) -> None:
    """Block until `stop` is set, or until the process `parent` (if given) is no longer this one's parent: a
    `--workers` replica must not outlive a first process that was killed. Polled: Python runs a signal's handler
    only when the main thread wakes, and an untimed wait is woken only if the kernel delivers the signal to the
    main thread, which it may not (seen after the process was stopped and continued: SIGTERM was then ignored)."""
    while not stop.wait(0.5):
        if parent is not None and os.getppid() != parent:
            log.warning("the first crscan serve process (pid %d) is gone: this replica stops too", parent)
            return


def start_workers(store: Store, settings: Settings, *, with_scheduler: bool) -> Background:
    """The scan workers (and, with the scheduler, rescans and syncs); the store is closed if they cannot start."""
    from crscan.jobs.interface import JobError
    from crscan.jobs.service import start_background

    try:
        return start_background(store, settings, with_scheduler=with_scheduler)
    except JobError as e:
        store.close()
        raise CliError(str(e)) from e


def _shown(url: str) -> str:
    """The database URL without its password: a SQLite file by its path, a server by its URL."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # an unparsable URL is shown by its scheme only; the error says what is wrong
        return url.split(":", 1)[0]
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return parsed.database
    return parsed.render_as_string(hide_password=True)


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
