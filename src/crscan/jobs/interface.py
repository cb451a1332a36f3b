"""What runs queued scans: a `JobQueue` (embedded thread pool, or procrastinate workers) and its one error."""

from __future__ import annotations

import abc


class JobError(Exception):
    """A job queue could not start or run; the message says what to fix."""


class RetryLater(JobError):
    """A scan failed for a reason that may pass (registry unreachable); the queue retries it while attempts
    remain and otherwise fails the scan with this message."""


class JobQueue(abc.ABC):
    """Runs the scan jobs `crscan.store.scans.Scans.enqueue` records, in the background, until stopped."""

    concurrency: int  # scans run at once in this process

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs and wait up to `timeout` for running ones; any still unfinished are claimed again by
        another worker once their lease expires."""

    def wake(self) -> None:  # noqa: B027 - queues that are pushed to need no nudge
        """A job was queued just now: look for it without waiting for the next poll."""
