"""`crscan serve`: the scanner API over gRPC (TLS) and REST from one process, until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from crscan.config import Settings
    from crscan.auth import Authenticator
    from crscan.store import Store

log = logging.getLogger("crscan.serve")
REPLICA_STARTUP_SECONDS = 60


def serve(
    config: Path = typer.Option(
        None, help="TOML config file; env and flags override it (env CRSCAN_CONFIG; docs/config.example.toml)."
    ),
    data_dir: Path = typer.Option(None, help="Where the database, TLS files and caches live (env CRSCAN_DATA_DIR)."),
    host: str = typer.Option(None, help="Address both servers listen on (env CRSCAN_HOST; default 127.0.0.1)."),
    http_port: int = typer.Option(None, help="REST port, 0 = any free port (env CRSCAN_HTTP_PORT; default 8080)."),
    grpc_port: int = typer.Option(None, help="gRPC port, 0 = any free port (env CRSCAN_GRPC_PORT; default 8443)."),
    database_url: str = typer.Option(
        None, help="SQLAlchemy URL (env CRSCAN_DATABASE_URL; default SQLite <data-dir>/crscan.db)."
    ),
    public_address: str = typer.Option(
        None, help="host:port clients reach gRPC at, for endpoint discovery (env CRSCAN_PUBLIC_ADDRESS)."
    ),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve without authentication: allow every request."),
    tls_cert: Path = typer.Option(None, help="gRPC certificate chain (PEM); default: self-signed in the data dir."),
    tls_key: Path = typer.Option(None, help="gRPC private key (PEM)."),
    http_tls_cert: Path = typer.Option(None, help="Serve REST over HTTPS with this certificate chain (PEM)."),
    http_tls_key: Path = typer.Option(None, help="Private key for --http-tls-cert."),
    feed_db: Path = typer.Option(None, help="Feed DB the scans match against (default <data-dir>/feeds.db)."),
    feeds_mirror: str = typer.Option(
        None, help="Build and refresh the feed DB from this mirror directory or URL (env CRSCAN_FEEDS_MIRROR)."
    ),
    feeds_update_hours: int = typer.Option(
        None, help="Build a missing feed DB at start and refresh it this often; 0 = never (default 12)."
    ),
    worker_concurrency: int = typer.Option(None, help="Scans this process runs at once (default 1)."),
    log_level: str = typer.Option(None, help="debug, info, warning or error (env CRSCAN_LOG_LEVEL; default info)."),
    log_format: str = typer.Option(None, help="text or json, one object per line (env CRSCAN_LOG_FORMAT)."),
    workers: int = typer.Option(
        1, min=1, help="API processes sharing both ports (SO_REUSEPORT); the first also runs scans and schedules."
    ),
    replica: bool = typer.Option(False, "--replica", hidden=True, help="One of the extra --workers processes."),
) -> None:
    """Serve the Container Registry scanner API (gRPC + REST) until SIGTERM or Ctrl-C."""
    # Every parameter but these four is the Settings field of the same name.
    flags = {
        name: value for name, value in locals().items() if name not in ("config", "no_auth", "workers", "replica")
    }
    settings = resolve_settings({**flags, "auth_enabled": False if no_auth else None}, config, logging=True)
    # Imported here: the server stack is heavy and the other verbs do not need it.
    from crscan.api.ops import ops_routes
    from crscan.api.server import ApiServer
    from crscan.api.servicers import build_servicers
    from crscan.auth import Role, TokenAuthenticator
    from crscan.console import PREFIX, console_app
    from crscan.policies import scan_on_push
    from crscan.api.webhook import webhook_routes
    from crscan.jobs.feeds import FeedKeeper
    from crscan.secrets import load_secret_box

    stop = stop_on_signals()
    parent = os.getppid() if replica else None
    store = open_store(settings, create_data_dir=True)
    box = load_secret_box(settings.secret_key, settings.data_dir)
    # A replica only serves requests: scans it queues are claimed by the first process's workers.
    background = None if replica else start_workers(store, settings, with_scheduler=True)
    wake = background.wake if background is not None else None
    # One process keeps the feed DB current; replicas read it.
    feeds = None
    if settings.feeds_update_hours and not replica:
        feeds = FeedKeeper(store, settings.effective_feed_db, settings.feeds_mirror,
                           interval=settings.feeds_update_hours * 3600.0, wake=wake or (lambda: None))
    authenticator = authenticator_for(settings, store)
    servicers = build_servicers(store, on_queued=wake, box=box)
    server = ApiServer(
        settings,
        servicers,
        authenticator,
        log_level=settings.log_level,
        extra_pages=ops_routes(store, settings.effective_feed_db, feeds.state if feeds else None),
        hooks=webhook_routes(store, box, settings.webhook_secret, on_images=lambda ids: scan_on_push(store, ids, wake)),
        mounts={PREFIX: console_app(servicers, authenticator, store, settings.effective_feed_db)},
        reuse_port=workers > 1 or replica,
    )
    replicas: list[subprocess.Popen[str]] = []
    try:
        server.start()
        for _ in range(workers - 1):
            replicas.append(start_replica(server.http_port, server.grpc_port, server.public_address))
    except BaseException:
        stop_replicas(replicas)
        server.stop()
        if background is not None:
            background.stop()
        store.close()
        raise
    typer.echo(f"gRPC (TLS) listening on {settings.host}:{server.grpc_port}, advertised as {server.public_address}")
    if server.tls is not None and server.tls.ca_file is not None:  # set by start()
        typer.echo(f"CA certificate for gRPC clients: {server.tls.ca_file}")
    if isinstance(authenticator, TokenAuthenticator) and not authenticator.tokens.has_active(Role.ADMIN):
        where = f"--data-dir {settings.data_dir}" if not settings.database_url else "the same --database-url"
        typer.echo(f"no active admin token yet: create one with `crscan token create --role admin` ({where}); "
                   "see docs/auth.md")
    typer.echo(f"web console: {server.http_url}{PREFIX}/")
    if replicas:
        typer.echo(f"{workers} processes serve both ports")
    typer.echo(f"REST listening on {server.http_url}")  # last: scripts may wait for this line
    settle_heap()
    if feeds is not None:
        feeds.start()  # after the servers: /readyz answers "not ready: building…" meanwhile
    wait_for_stop(stop, parent=parent)
    log.info("shutting down")
    if feeds is not None:
        feeds.stop()
    for process in replicas:  # told first, so they drain their connections while this process drains its own
        process.terminate()
    server.stop()
    await_replicas(replicas)
    if background is not None:
        background.stop()
    store.close()
    typer.echo("crscan serve: stopped")


def start_replica(http_port: int, grpc_port: int, public_address: str) -> subprocess.Popen[str]:
    """This command again as an API-only process on the same (now known) ports; returns once it listens."""
    # Later options win, so the original arguments stay and only the ports and the role are overridden.
    argv = [sys.executable, sys.argv[0], *sys.argv[1:], "--workers", "1", "--replica", "--http-port",
            str(http_port), "--grpc-port", str(grpc_port), "--public-address", public_address]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    listening = threading.Event()

    def watch() -> None:  # the replica's stdout repeats the banner; only its readiness matters here
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("REST listening on"):
                listening.set()

    threading.Thread(target=watch, name="crscan-replica-output", daemon=True).start()
    if not listening.wait(REPLICA_STARTUP_SECONDS):
        process.kill()
        process.wait()
        raise CliError(f"a --workers process did not start within {REPLICA_STARTUP_SECONDS} s; see the log above")
    return process


def stop_replicas(replicas: list[subprocess.Popen[str]]) -> None:
    for process in replicas:
        process.terminate()
    await_replicas(replicas)


def await_replicas(replicas: list[subprocess.Popen[str]]) -> None:
    """Wait for replicas already told to stop; one that does not within 30 s is killed."""
    for process in replicas:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def authenticator_for(settings: Settings, store: Store) -> Authenticator:
    """The auth hook's policy: bearer tokens from `store` checked for role and scope, unless `auth_enabled=false`
    (an explicit setting, logged loudly). Chosen here, by the entry point, and handed to the server."""
    from crscan.api.auth import AllowAll
    from crscan.auth import SqlTokenRepository, TokenAuthenticator, TokenService

    if not settings.auth_enabled:
        log.warning("AUTHENTICATION IS DISABLED (--no-auth): every request is allowed, tokens are not checked")
        return AllowAll()
    return TokenAuthenticator(TokenService(SqlTokenRepository(store)))
