"""The background half of `crscan serve` and all of `crscan worker`: job workers and the rescan scheduler.

On SQLite the workers are the embedded queue's threads; on PostgreSQL they are procrastinate workers, and any
number of `crscan worker` processes on any machines share the queue.

Tuning that is not in `Settings` comes from the environment: CRSCAN_JOB_LEASE_SECONDS (how long a dead
worker's job waits before another worker takes it, default 60), CRSCAN_JOB_MAX_ATTEMPTS (default 3) and
CRSCAN_RESCAN_INTERVAL (seconds between scheduled-rule checks, default 60).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from crscan.config import Settings
from crscan.jobs.embedded import DEFAULT_LEASE_SECONDS, DEFAULT_MAX_ATTEMPTS, EmbeddedQueue
from crscan.jobs.interface import JobError, JobQueue
from crscan.jobs.procrastinate_queue import ProcrastinateQueue
from crscan.jobs.runner import ScanRunner
from crscan.policies.scheduler import DEFAULT_INTERVAL, Scheduler
from crscan.scan.pipeline import Scanner
from crscan.secrets import SecretError, load_secret_box
from crscan.store import Store


@dataclass
class Background:
    queue: JobQueue
    scheduler: Scheduler | None
    runner: ScanRunner

    def wake(self) -> None:
        self.queue.wake()

    def stop(self, timeout: float = 30.0) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.queue.stop(timeout)
        self.runner.close()


N = TypeVar("N", int, float)


def _number(environ: Mapping[str, str], name: str, default: N, kind: Callable[[str], N]) -> N:
    raw = environ.get(name, "")
    if raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise JobError(f"environment variable {name}={raw!r} is not a number") from None
    if value <= 0:
        raise JobError(f"environment variable {name} must be positive, got {raw}")
    return value


def start_background(
    store: Store, settings: Settings, *, concurrency: int | None = None, with_scheduler: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Background:
    """Start the job workers (and the scheduler); raises JobError for bad tuning or an unusable secret key."""
    environ = os.environ if environ is None else environ
    lease = _number(environ, "CRSCAN_JOB_LEASE_SECONDS", float(DEFAULT_LEASE_SECONDS), float)
    attempts = _number(environ, "CRSCAN_JOB_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, int)
    interval = _number(environ, "CRSCAN_RESCAN_INTERVAL", float(DEFAULT_INTERVAL), float)
    try:
        box = load_secret_box(settings.secret_key, settings.data_dir)
    except SecretError as exc:
        raise JobError(str(exc)) from None
    runner = ScanRunner(store, settings.effective_feed_db, box=box, scanner=Scanner())
    concurrency = concurrency or settings.worker_concurrency
    if store.engine.dialect.name == "postgresql":
        queue: JobQueue = ProcrastinateQueue(
            store, settings.effective_database_url, runner.run, concurrency=concurrency, lease_seconds=lease,
            max_attempts=attempts,
        )
    else:
        queue = EmbeddedQueue(store, runner.run, concurrency=concurrency, lease_seconds=lease, max_attempts=attempts)
    queue.start()
    scheduler = None
    if with_scheduler:
        scheduler = Scheduler(store, interval=interval, wake=queue.wake)
        scheduler.start()
    return Background(queue, scheduler, runner)
