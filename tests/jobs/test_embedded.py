"""The embedded queue over the jobs table: leases, retries, bounded attempts, and 1,000 queued scans that
survive a restart of the workers with none lost or run twice.

The handler here finishes scans directly: the queue is what is under test (the runner has its own tests).
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from yandex.cloud.containerregistry.v1 import scanner_pb2

from crscan.jobs import EmbeddedQueue, JobError
from crscan.store import schema
from tests.store.seeding import add_image

READY, ERROR, RUNNING = scanner_pb2.ScanResult.READY, scanner_pb2.ScanResult.ERROR, scanner_pb2.ScanResult.RUNNING


class Recorder:
    """Finishes each scan it is given, remembering every call (to catch duplicates)."""

    def __init__(self, store, delay: float = 0.0, outcomes=()):
        self.store = store
        self.delay = delay
        self.outcomes = list(outcomes)  # returned first, in order, before finishing anything
        self.lock = threading.Lock()
        self.calls: list[tuple[int, bool]] = []

    def __call__(self, job, *, last_attempt):
        time.sleep(self.delay)
        with self.lock:
            self.calls.append((job.id, last_attempt))
            if self.outcomes:
                return self.outcomes.pop(0)
        self.store.scans.finish(job.scan_result_id, [], {}, "build", [])
        return "ready"


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def scan_statuses(store) -> dict[int, int]:
    with store.sessions() as session:
        return dict(session.execute(
            select(schema.ScanResult.status, func.count()).group_by(schema.ScanResult.status)
        ).all())


def test_1000_queued_scans_survive_a_restart_of_the_workers_none_lost_or_duplicated(store):
    images = [add_image(store, repository=f"app/{n}") for n in range(1000)]
    operations = [store.scans.enqueue(image.id) for image in images]
    assert store.jobs.counts() == {schema.JOB_QUEUED: 1000}

    first = Recorder(store, delay=0.002)
    queue = EmbeddedQueue(store, first, concurrency=4, poll_interval=0.05)
    queue.start()
    wait_for(lambda: len(first.calls) >= 200)
    queue.stop()  # a restart: running jobs finish, queued ones wait in the table
    assert 200 <= len(first.calls) < 1000

    second = Recorder(store)
    queue = EmbeddedQueue(store, second, concurrency=4, poll_interval=0.05)
    queue.start()
    wait_for(lambda: scan_statuses(store).get(READY) == 1000)
    queue.stop()
    handled = [job_id for job_id, _ in first.calls + second.calls]
    assert len(handled) == len(set(handled)) == 1000
    assert store.jobs.counts() == {schema.JOB_DONE: 1000}
    assert all(store.operations.get(o.id).done for o in operations[::50])


def test_a_scan_queued_while_a_claim_finds_nothing_starts_at_once_not_after_the_poll_interval(store, monkeypatch):
    image = add_image(store)
    recorder = Recorder(store)
    queue = EmbeddedQueue(store, recorder, poll_interval=60.0)
    claim, looks = store.jobs.claim, []

    def racing_claim(lease_seconds):
        looks.append(lease_seconds)
        found = claim(lease_seconds)
        if len(looks) == 1:  # between this empty look and the worker's sleep, a scan is queued and wakes it
            assert found is None
            store.scans.enqueue(image.id)
            queue.wake()
        return found

    monkeypatch.setattr(store.jobs, "claim", racing_claim)
    queue.start()
    try:
        wait_for(lambda: scan_statuses(store).get(READY) == 1, timeout=10.0)
    finally:
        queue.stop()
    assert len(recorder.calls) == 1


def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(store):
    image = add_image(store)
    operation = store.scans.enqueue(image.id)
    dead = store.jobs.claim(lease_seconds=0.3)  # claimed by a worker that then vanished
    assert dead.attempts == 1
    assert store.jobs.claim(lease_seconds=60) is None  # leased: nobody else may take it

    recorder = Recorder(store)
    queue = EmbeddedQueue(store, recorder, poll_interval=0.05)
    queue.start()
    wait_for(lambda: store.scans.get(operation.resource_id).status == READY, timeout=10)
    queue.stop()
    assert recorder.calls == [(dead.id, False)]  # attempt 2 of 3
    assert store.jobs.of(operation.resource_id)[0].attempts == 2


def test_a_running_job_keeps_its_lease_while_it_runs(store):
    operation = store.scans.enqueue(add_image(store).id)
    recorder = Recorder(store, delay=1.5)
    queue = EmbeddedQueue(store, recorder, lease_seconds=0.5, poll_interval=0.05)
    queue.start()
    wait_for(lambda: recorder.calls, timeout=10)
    queue.stop()
    assert len(recorder.calls) == 1  # the heartbeat renewed the lease: no second worker took it
    assert store.scans.get(operation.resource_id).status == READY


def test_exhausted_attempts_end_the_scan_error(store):
    operation = store.scans.enqueue(add_image(store).id)
    for _ in range(3):  # three workers died mid-scan
        assert store.jobs.claim(lease_seconds=0.05) is not None
        time.sleep(0.1)
    recorder = Recorder(store)
    queue = EmbeddedQueue(store, recorder, max_attempts=3, poll_interval=0.05)
    queue.start()
    wait_for(lambda: store.scans.get(operation.resource_id).status != RUNNING, timeout=10)
    queue.stop()
    result = store.scans.get(operation.resource_id)
    assert result.status == ERROR and recorder.calls == []
    assert result.error_message.endswith("before finishing, on all 3 attempts")
    assert store.jobs.of(operation.resource_id)[0].status == schema.JOB_FAILED


def test_a_retry_outcome_hands_the_job_back_until_the_last_attempt(store):
    operation = store.scans.enqueue(add_image(store).id)
    recorder = Recorder(store, outcomes=["retry", "retry"])
    queue = EmbeddedQueue(store, recorder, max_attempts=3, poll_interval=0.05)
    queue.start()
    wait_for(lambda: store.scans.get(operation.resource_id).status == READY, timeout=10)
    queue.stop()
    assert [last for _, last in recorder.calls] == [False, False, True]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "options, message",
    [({"concurrency": 0}, "concurrency must be at least 1"), ({"max_attempts": 0}, "max attempts"),
     ({"lease_seconds": 0}, "lease must be positive")],
)
def test_bad_settings_are_refused_by_name(store, options, message):
    with pytest.raises(JobError, match=message):
        EmbeddedQueue(store, Recorder(store), **options)
