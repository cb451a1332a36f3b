"""`crscan worker`: scan workers only, sharing the server's database (run any number, on any machine)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import typer

from crscan.config import ConfigError, Settings, configure_logging

log = logging.getLogger("crscan.worker")


def worker(
    config: Path = typer.Option(None, help="TOML config file (env CRSCAN_CONFIG), as for crscan serve."),
    data_dir: Path = typer.Option(None, help="Data directory (secret key, default feed DB) (env CRSCAN_DATA_DIR)."),
    database_url: str = typer.Option(None, help="The server's database (env CRSCAN_DATABASE_URL)."),
    feed_db: Path = typer.Option(None, help="Feed DB scans match against (default <data-dir>/feeds.db)."),
    concurrency: int = typer.Option(None, help="Scans this worker runs at once (default: worker_concurrency, 1)."),
    log_level: str = typer.Option(None, help="debug, info, warning or error (env CRSCAN_LOG_LEVEL)."),
) -> None:
    """Run queued scans until SIGTERM or Ctrl-C; a killed worker's scans are retried by the others."""
    flags = {
        "data_dir": data_dir, "database_url": database_url, "feed_db": feed_db, "worker_concurrency": concurrency,
        "log_level": log_level,
    }
    from sqlalchemy.exc import SQLAlchemyError

    from crscan.jobs.interface import JobError
    from crscan.jobs.service import start_background
    from crscan.store import Store, StoreError

    try:
        settings = Settings.resolve(flags, config_file=config)
        configure_logging(settings.log_level, settings.log_format)
    except ConfigError as e:
        typer.echo(f"crscan worker: error: {e}", err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, frame: stop.set())
    try:
        store = Store(settings.effective_database_url)
        store.migrate()
    except (OSError, StoreError, SQLAlchemyError) as e:
        summary = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        typer.echo(f"crscan worker: error: cannot prepare the database: {summary}", err=True)
        raise typer.Exit(1) from None
    try:
        background = start_background(store, settings, with_scheduler=False)
    except JobError as e:
        store.close()
        typer.echo(f"crscan worker: error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"crscan worker: running {background.queue.concurrency} scans at once")  # scripts wait for this
    stop.wait()
    log.info("stopping: waiting for running scans")
    background.stop()
    store.close()
    typer.echo("crscan worker: stopped")
