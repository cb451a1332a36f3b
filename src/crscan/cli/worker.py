"""`crscan worker`: scan workers only, sharing the server's database (run any number, on any machine)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from crscan.cli.interface import CliError
from crscan.cli.startup import (
    open_store,
    resolve_settings,
    settle_heap,
    start_workers,
    stop_on_signals,
    wait_for_stop,
)

log = logging.getLogger("crscan.worker")


def worker(
    config: Path = typer.Option(None, help="TOML config file (env CRSCAN_CONFIG), as for crscan serve."),
    data_dir: Path = typer.Option(None, help="Data directory (secret key, default feed DB) (env CRSCAN_DATA_DIR)."),
    database_url: str = typer.Option(None, help="The server's database (env CRSCAN_DATABASE_URL)."),
    feed_db: Path = typer.Option(None, help="Feed DB scans match against (default <data-dir>/feeds.db)."),
    concurrency: int = typer.Option(None, help="Scans this worker runs at once (default: worker_concurrency, 1)."),
    metrics_port: int = typer.Option(
        None, help="Serve /healthz and /metrics on this port, 0 = any free port (env CRSCAN_METRICS_PORT; "
                   "default: none)."
    ),
    host: str = typer.Option(None, help="Address the metrics port listens on (env CRSCAN_HOST; default 127.0.0.1)."),
    log_level: str = typer.Option(None, help="debug, info, warning or error (env CRSCAN_LOG_LEVEL)."),
) -> None:
    """Run queued scans until SIGTERM or Ctrl-C; a killed worker's scans are retried by the others."""
    flags = {"data_dir": data_dir, "database_url": database_url, "feed_db": feed_db, "worker_concurrency": concurrency,
             "metrics_port": metrics_port, "host": host, "log_level": log_level}
    settings = resolve_settings(flags, config, logging=True)
    stop = stop_on_signals()
    store = open_store(settings)
    ops = None
    if settings.metrics_port is not None:
        from crscan.api.ops import OpsServer  # the HTTP stack only when asked for
        from crscan.cli.serve import authenticator_for

        try:
            ops = OpsServer(store, settings.effective_feed_db, authenticator_for(settings, store), settings.host,
                            settings.metrics_port)
        except OSError as e:
            store.close()
            raise CliError(f"cannot listen for metrics on {settings.host}:{settings.metrics_port}: "
                           f"{e.strerror or e}") from None
        ops.start()
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        typer.echo(f"crscan worker: /healthz and /metrics on http://{shown}:{ops.port}")
    try:
        background = start_workers(store, settings, with_scheduler=False)
    except CliError:
        if ops is not None:
            ops.stop()
        raise
    typer.echo(f"crscan worker: running {background.queue.concurrency} scans at once")  # scripts wait for this
    settle_heap()
    wait_for_stop(stop)
    log.info("stopping: waiting for running scans")
    background.stop()
    if ops is not None:
        ops.stop()
    store.close()
    typer.echo("crscan worker: stopped")
