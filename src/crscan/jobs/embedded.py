"""The embedded queue: worker threads over the store's `jobs` table, with leases.

The queue of SQLite installations (one `crscan serve`); it also works on PostgreSQL shared by many processes,
where `crscan serve`/`worker` use procrastinate instead (procrastinate_queue.py). A claim is one conditional
UPDATE, a heartbeat renews the leases of running jobs, and a job whose worker died is claimed again once its
lease expires — until `max_attempts`, after which its scan ends ERROR.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from crscan.jobs.interface import JobError, JobQueue
from crscan.store import ScanNotRunning, Store
from crscan.store.jobs import ClaimedJob

log = logging.getLogger(__name__)

# Runs one claimed job to its end; returns "retry" to hand it back to the queue.
Handler = Callable[..., str]

DEFAULT_LEASE_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0  # a worker that cannot write retries at least this often once space returns
DEFAULT_MAX_ATTEMPTS = 3


def abandoned_message(attempts: int) -> str:
    """Why a scan ended ERROR after its workers died mid-scan on every attempt it was allowed."""
    tries = "its only attempt" if attempts == 1 else f"all {attempts} attempts"
    return f"scan abandoned: its worker stopped (killed or out of memory) before finishing, on {tries}"


class Backoff:
    """Exponential delays while an operation keeps failing, and whether its state just changed, so a worker
    logs one line when the database stops taking writes and one when it takes them again."""

    def __init__(self, first: float, longest: float) -> None:
        self.first, self.longest = first, longest
        self.delay = 0.0

    def failed(self) -> bool:
        """Count a failure; True when it is the first of a run."""
        first = self.delay == 0.0
        self.delay = self.first if first else min(self.delay * 2, self.longest)
        return first

    def recovered(self) -> bool:
        """Count a success; True when it ends a run of failures."""
        recovered, self.delay = self.delay != 0.0, 0.0
        return recovered


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class EmbeddedQueue(JobQueue):
    def __init__(
        self,
        store: Store,
        handler: Handler,
        *,
        concurrency: int = 1,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        poll_interval: float = 1.0,
    ) -> None:
        if concurrency < 1:
            raise JobError(f"worker concurrency must be at least 1, got {concurrency}")
        if max_attempts < 1:
            raise JobError(f"max attempts must be at least 1, got {max_attempts}")
        if lease_seconds <= 0:
            raise JobError(f"the job lease must be positive, got {lease_seconds} s")
        self.store = store
        self.handler = handler
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        self._stopping = threading.Event()
        self._work = threading.Condition()
        self._wakes = 0  # counts wake() calls, so one that lands while a worker is claiming is not lost
        self._running: set[int] = set()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._work_loop, name=f"crscan-worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        self._threads.append(threading.Thread(target=self._heartbeat, name="crscan-lease-heartbeat", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)

    def wake(self) -> None:
        with self._work:
            self._wakes += 1
            self._work.notify_all()

    def _work_loop(self) -> None:
        failing = Backoff(self.poll_interval, MAX_BACKOFF_SECONDS)
        while not self._stopping.is_set():
            with self._work:
                wakes = self._wakes
            try:
                job = self.store.jobs.claim(self.lease_seconds)
            except Exception as exc:  # disk full, database unreachable: keep the worker alive, wait longer
                if failing.failed():
                    log.warning("cannot claim jobs: %s; retrying with backoff up to %g s",
                                first_line(exc), MAX_BACKOFF_SECONDS)
                self._stopping.wait(failing.delay)
                continue
            if failing.recovered():
                log.warning("claiming jobs again")
            if job is None:
                with self._work:
                    if self._wakes == wakes:  # nothing queued since the claim looked: sleep until woken
                        self._work.wait(self.poll_interval)
                continue
            self._run(job)

    def _run(self, job: ClaimedJob) -> None:
        with self._work:
            self._running.add(job.id)
        try:
            if job.attempts > self.max_attempts:
                self._abandon(job)
                return
            outcome = self.handler(job, last_attempt=job.attempts >= self.max_attempts)
            if outcome == "retry":
                self.store.jobs.release(job.id)
        except Exception:
            log.exception("job %s: the handler failed; the lease will expire and the job be retried", job.id)
        finally:
            with self._work:
                self._running.discard(job.id)

    def _abandon(self, job: ClaimedJob) -> None:
        """A job claimed more often than allowed: its workers kept dying mid-scan."""
        try:
            self.store.scans.fail(job.scan_result_id, abandoned_message(job.attempts - 1))
        except ScanNotRunning:
            self.store.jobs.finish(job.id)

    def _heartbeat(self) -> None:
        failing = Backoff(self.lease_seconds / 3, self.lease_seconds / 3)
        while not self._stopping.wait(self.lease_seconds / 3):
            with self._work:
                running = list(self._running)
            try:
                self.store.jobs.renew_leases(running, self.lease_seconds)
            except Exception as exc:
                if failing.failed():
                    log.warning("cannot renew job leases: %s", first_line(exc))
                continue
            if failing.recovered():
                log.warning("renewing job leases again")
