"""Operator endpoints beside the API: `/readyz` (database writable, feed DB sound) and Prometheus `/metrics`.

`/healthz` (liveness) is answered by the REST transport itself and needs nothing. These need the store and the
feed DB, so `crscan serve` builds them with `ops_routes(store, feed_db_path)` and hands them to `ApiServer`,
which asks for a viewer token on every page but `/healthz`. None reveals a secret: failure reasons are the first
line of the driver's message, never the database URL.

`crscan worker` has no API server; `OpsServer` gives it `/healthz` and the same `/metrics` on a port of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import func, select, text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from crscan import metrics
from crscan.api.auth import authenticated
from crscan.api.errors import ApiError
from crscan.api.rest import HTTP_STATUS, OPS_PAGE_METHOD
from crscan.auth.interface import Authenticator
from crscan.store import Store, schema
from crscan.vulndb import FeedDB

log = logging.getLogger(__name__)

# A probe must answer even when the database hangs (e.g. a blackholed host): past this it counts as failed.
CHECK_TIMEOUT = 5.0
WRITE_PROBE = "readyz-write-probe"  # the settings row /readyz rewrites
SPACE_PROBE_BYTES = 256 * 1024  # room for a scan's rows; less and the next POST /scans fails
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    error: str = ""

    def to_json(self) -> dict[str, object]:
        return {"ok": True} if self.ok else {"ok": False, "error": self.error}


class OpsProbes:
    """The checks and scrape-time readings behind `/readyz` and `/metrics`."""

    def __init__(self, store: Store, feed_db_path: Path, feed_state: Callable[[], str] | None = None):
        self.store = store
        self.feed_db_path = feed_db_path
        self.feed_state = feed_state
        self._integrity_lock = threading.Lock()
        self._integrity: tuple[tuple[object, ...] | None, str] = (None, "")

    def check_database(self) -> CheckResult:
        try:
            with self.store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as e:  # any driver failure means "not ready"; the probe itself must not fail
            return CheckResult(False, f"database did not answer SELECT 1: {_first_line(e)}")
        return CheckResult(True)

    def check_store_write(self) -> CheckResult:
        """A committed write, so a read-only file or a refusing server shows here and not first in a scan; and
        room for new pages next to a SQLite file (rewriting one row reuses pages, so a full disk needs this)."""
        try:
            with self.store.sessions.begin() as session:
                session.merge(schema.Setting(name=WRITE_PROBE, value=str(time.time()).encode()))
        except Exception as e:
            return CheckResult(False, f"database cannot be written: {_first_line(e)}")
        database = self.store.engine.url.database
        if self.store.engine.dialect.name == "sqlite" and database:
            try:
                with tempfile.TemporaryFile(dir=Path(database).parent) as probe:
                    probe.write(bytes(SPACE_PROBE_BYTES))
                    probe.flush()
                    os.fsync(probe.fileno())
            except OSError as e:
                return CheckResult(False, f"database directory cannot be written: {e.strerror or e}")
        return CheckResult(True)

    def check_feed_db(self) -> CheckResult:
        if self.feed_state is not None and not self.feed_db_path.exists():
            # The service builds its first feed DB: the reason says how far it got (or why it failed).
            return CheckResult(False, f"feed DB {self.feed_db_path} does not exist yet: {self.feed_state()}")
        try:
            with FeedDB.open(self.feed_db_path) as feeds:
                stat = self.feed_db_path.stat()
                # Once per build and file version (a file rewritten in place gets a new mtime), not per request.
                version = (feeds.build_id, stat.st_ino, stat.st_size, stat.st_mtime_ns)
                with self._integrity_lock:
                    if self._integrity[0] != version:
                        self._integrity = (version, feeds.integrity_error())
                    problem = self._integrity[1]
        except Exception as e:
            return self._unusable(_first_line(e))
        if problem:
            return self._unusable(f"feed DB {self.feed_db_path} failed its integrity check: {problem}")
        return CheckResult(True)

    def _unusable(self, reason: str) -> CheckResult:
        # The service rebuilds a feed DB that cannot serve: the reason also says how far that got.
        if self.feed_state is None:
            return CheckResult(False, reason)
        return CheckResult(False, f"{reason}; feed DB updater: {self.feed_state()}")

    def gauges(self) -> list[metrics.Gauge]:
        """Queue depth and feed age; a reading that fails is left out (readiness reports why)."""
        readings = []
        try:
            with self.store.sessions() as session:
                queued = session.execute(
                    select(func.count()).select_from(schema.Job).where(schema.Job.status == schema.JOB_QUEUED)
                ).scalar_one()
            readings.append(metrics.Gauge("crscan_queue_depth", "Scan jobs waiting for a worker.", float(queued)))
        except Exception:
            log.debug("queue depth unavailable", exc_info=True)
        try:
            with FeedDB.open(self.feed_db_path) as feeds:
                built = dt.datetime.strptime(feeds.built_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            age = (dt.datetime.now(dt.UTC) - built).total_seconds()
            readings.append(metrics.Gauge("crscan_feed_age_seconds", "Seconds since the feed DB was built.", age))
        except Exception:
            log.debug("feed age unavailable", exc_info=True)
        return readings


def ops_routes(
    store: Store, feed_db_path: Path, feed_state: Callable[[], str] | None = None
) -> dict[str, Handler]:
    """GET handlers by path, for `ApiServer(extra_routes=…)`; `feed_state` explains a missing feed DB."""
    probes = OpsProbes(store, feed_db_path, feed_state)

    async def readyz(request: Request) -> Response:
        checks = {
            "database": await _bounded(probes.check_database, "database"),
            "database_write": await _bounded(probes.check_store_write, "database write"),
            "feed_db": await _bounded(probes.check_feed_db, "feed DB"),
        }
        ready = all(result.ok for result in checks.values())
        body = {"status": "ready" if ready else "unready", "checks": {k: v.to_json() for k, v in checks.items()}}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics_page(request: Request) -> Response:
        gauges = await run_in_threadpool(probes.gauges)
        return PlainTextResponse(metrics.exposition(gauges), media_type=PROMETHEUS_CONTENT_TYPE)

    return {"/readyz": readyz, "/metrics": metrics_page}


async def _bounded(check: Callable[[], CheckResult], what: str) -> CheckResult:
    try:
        return await asyncio.wait_for(run_in_threadpool(check), CHECK_TIMEOUT)
    except TimeoutError:
        return CheckResult(False, f"{what} check did not finish within {CHECK_TIMEOUT:g} s")


class OpsServer:
    """`/healthz` (public) and `/metrics` (a viewer token, as on `crscan serve`) for a process without the API.

    A stdlib threading server: two GET pages need no event loop, and a scrape must not wait behind a scan.
    """

    def __init__(self, store: Store, feed_db_path: Path, authenticator: Authenticator, host: str, port: int):
        probes = OpsProbes(store, feed_db_path)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the name http.server dispatches to
                if self.path == "/healthz":
                    self._answer(200, "application/json", json.dumps({"status": "ok"}))
                elif self.path == "/metrics":
                    peer = f"{self.client_address[0]}:{self.client_address[1]}"
                    try:
                        with authenticated(authenticator, OPS_PAGE_METHOD, "rest",
                                           [(k.lower(), v) for k, v in self.headers.items()], peer):
                            pass
                    except ApiError as e:
                        body = json.dumps({"code": e.code.value[0], "message": e.message})
                        self._answer(HTTP_STATUS[e.code], "application/json", body)
                        return
                    self._answer(200, PROMETHEUS_CONTENT_TYPE, metrics.exposition(probes.gauges()))
                else:
                    body = json.dumps({"code": 5, "message": f"no page {self.path!r}: try /healthz or /metrics"})
                    self._answer(404, "application/json", body)

            def _answer(self, status: int, content_type: str, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # scrapes every few seconds: debug only
                log.debug("ops %s - %s", self.address_string(), format % args)

        server_class = _HttpServer6 if ":" in host else _HttpServer
        self._server = server_class((host, port), Handler)  # OSError (in use, no such address) to the caller
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="crscan-ops", daemon=True)

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True  # a scrape in progress does not hold up the worker's exit


class _HttpServer6(_HttpServer):
    address_family = socket.AF_INET6


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
