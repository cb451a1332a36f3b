"""Scale-out on PostgreSQL: scan jobs dispatched through procrastinate to `crscan worker` processes anywhere.

A job is deferred to procrastinate inside the transaction that queues it (`crscan.store.scans.Scans.enqueue`,
once procrastinate's schema exists), so a scan is never queued without its procrastinate job nor the reverse.
The store's `jobs` row stays the record of the scan's attempts and lease: the task claims it by id, so a
duplicate delivery does nothing. A worker killed mid-scan stops sending procrastinate heartbeats; every worker
periodically asks procrastinate for jobs stalled that way and retries them, and the retried task finds the
row's lease expired and claims it again — until the attempts run out and the scan ends ERROR.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import procrastinate
from procrastinate.schema import SchemaManager
from sqlalchemy import text
from sqlalchemy.engine import make_url

from crscan.jobs.embedded import DEFAULT_LEASE_SECONDS, DEFAULT_MAX_ATTEMPTS, Handler, abandoned_message
from crscan.jobs.interface import JobError, JobQueue
from crscan.store import ScanNotRunning, Store
from crscan.store import jobs as stored

log = logging.getLogger(__name__)

QUEUE, TASK = stored.PROCRASTINATE_QUEUE, stored.PROCRASTINATE_TASK
SCHEMA_LOCK = 0x63727363616E  # pg_advisory_lock key: "crscan", so concurrent starts apply the schema once


def conninfo(database_url: str) -> str:
    """The libpq URL procrastinate's psycopg connector takes, from the store's SQLAlchemy URL."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise JobError("the procrastinate queue needs PostgreSQL; SQLite installations use the embedded workers")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def prepare(store: Store) -> None:
    """Create procrastinate's tables unless they exist (they are not part of crscan's migrations), then hand it
    every unfinished job that has no procrastinate job yet: queued before the schema existed, or by the
    embedded queue before the installation moved to PostgreSQL workers."""
    with store.engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        if connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
            # On the psycopg connection itself: without parameters it leaves the schema's '%' signs alone.
            driver = connection.connection.driver_connection
            assert driver is not None, "a pooled connection in use has its driver connection"
            driver.execute(SchemaManager.get_schema())
        orphans = connection.execute(
            text(
                "SELECT id FROM jobs WHERE status IN ('queued', 'running') AND NOT EXISTS ("
                " SELECT 1 FROM procrastinate_jobs p WHERE p.task_name = :task AND p.status IN ('todo', 'doing')"
                " AND (p.args->>'job_id')::bigint = jobs.id)"
            ),
            {"task": TASK},
        ).scalars().all()
        for job_id in orphans:
            stored.defer_to_procrastinate(connection, job_id)
    if orphans:
        log.info("handed %d unfinished scan jobs to procrastinate", len(orphans))


class HandedBack(JobError):
    """The scan failed in a way that may pass; procrastinate retries the task."""


class ProcrastinateQueue(JobQueue):
    """Runs scans deferred to procrastinate: `concurrency` at once in this process."""

    def __init__(
        self,
        store: Store,
        database_url: str,
        handler: Handler,
        *,
        concurrency: int = 1,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        if concurrency < 1:
            raise JobError(f"worker concurrency must be at least 1, got {concurrency}")
        self.store = store
        self.handler = handler
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url)))
        # A scan handed back (registry unreachable) is retried by procrastinate a little later.
        self.app.task(name=TASK, queue=QUEUE, pass_context=False, retry=procrastinate.RetryStrategy(
            max_attempts=max_attempts, wait=2, retry_exceptions={HandedBack}))(self._run)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._running: set[int] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        prepare(self.store)
        self._thread = threading.Thread(target=self._serve, name="crscan-procrastinate", daemon=True)
        self._thread.start()
        if not self._started.wait(60):
            raise JobError("the procrastinate worker did not start within 60 s; see the log")

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._main is not None:
            self._loop.call_soon_threadsafe(self._main.cancel)  # procrastinate stops gracefully on cancel
        if self._thread is not None:
            self._thread.join(timeout)

    def _serve(self) -> None:
        asyncio.run(self._serve_async())

    async def _serve_async(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        async with self.app.open_async():
            self._started.set()
            side = [asyncio.create_task(self._retry_stalled()), asyncio.create_task(self._renew_leases())]
            try:
                await self.app.run_worker_async(
                    queues=[QUEUE], concurrency=self.concurrency, install_signal_handlers=False,
                    update_heartbeat_interval=max(self.lease_seconds / 4, 0.2),
                    stalled_worker_timeout=self.lease_seconds, fetch_job_polling_interval=1.0,
                    shutdown_graceful_timeout=30.0, delete_jobs="successful",
                )
            except asyncio.CancelledError:
                pass
            finally:
                for task in side:
                    task.cancel()

    async def _retry_stalled(self) -> None:
        """Re-queue jobs whose worker stopped sending heartbeats (killed, frozen, lost its network)."""
        while True:
            await asyncio.sleep(max(self.lease_seconds / 2, 0.2))
            try:
                for job in await self.app.job_manager.get_stalled_jobs(
                    queue=QUEUE, seconds_since_heartbeat=self.lease_seconds
                ):
                    log.warning("retrying scan job %s: its worker stopped", job.task_kwargs.get("job_id"))
                    await self.app.job_manager.retry_job(job)
            except Exception:
                log.exception("cannot check for stalled jobs")

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            with self._lock:
                running = list(self._running)
            try:
                await asyncio.to_thread(self.store.jobs.renew_leases, running, self.lease_seconds)
            except Exception:
                log.exception("cannot renew job leases")

    def _run(self, job_id: int) -> None:
        """The task: claim the store's job row and run the scan (in a procrastinate worker thread)."""
        job = self.store.jobs.claim_by_id(job_id, self.lease_seconds)
        if job is None:
            wait = self.store.jobs.lease_left(job_id)
            if wait is None:
                return  # done or cancelled
            # Stalled-job retries can come just before the dead worker's lease runs out: wait for it. A live
            # worker renews its lease, so this claim then fails and the duplicate delivery ends here.
            time.sleep(min(wait, self.lease_seconds) + 0.1)
            job = self.store.jobs.claim_by_id(job_id, self.lease_seconds)
            if job is None:
                return
        with self._lock:
            self._running.add(job.id)
        try:
            if job.attempts > self.max_attempts:
                try:
                    self.store.scans.fail(job.scan_result_id, abandoned_message(job.attempts - 1))
                except ScanNotRunning:
                    self.store.jobs.finish(job.id)
                return
            if self.handler(job, last_attempt=job.attempts >= self.max_attempts) == "retry":
                self.store.jobs.release(job.id)
                raise HandedBack(f"scan job {job.id} will be retried")
        finally:
            with self._lock:
                self._running.discard(job.id)


