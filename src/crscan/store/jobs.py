"""Scan jobs with leases: the durable queue the workers take scans from.

A job is claimed with one conditional UPDATE, so two workers (threads, processes or machines sharing the
database) never run the same job at once; a worker that dies leaves a lease that expires, and the job is claimed
again until its attempts run out. Jobs are queued with their scan (`crscan.store.scans.Scans.enqueue`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crscan.store import schema
from crscan.store.base import Resource, rows_changed
from crscan.store.schema import utcnow

SCAN_JOB = "scan"


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    scan_result_id: str
    image_id: str
    rematch: bool
    attempts: int
    reclaimed: bool = False  # its previous worker's lease expired mid-scan (killed, out of memory)


# procrastinate's queue and task for scan jobs (crscan.jobs.procrastinate_queue runs them).
PROCRASTINATE_QUEUE = "crscan-scans"
PROCRASTINATE_TASK = "crscan.scan"


def defer_to_procrastinate(connection: Connection, job_id: int) -> None:
    """On PostgreSQL with procrastinate's schema applied (by `crscan worker`/`serve` at start), defer the job to
    procrastinate in this same transaction: the scan and its procrastinate job are committed together. This
    is procrastinate's own defer statement (its versioned SQL API), so every process that queues scans —
    server, `crscan rescan`, `registry sync` — dispatches them without any procrastinate setup of its own."""
    if connection.dialect.name != "postgresql":
        return
    if connection.scalar(text("SELECT to_regtype('procrastinate_job_to_defer_v1')")) is None:
        return
    connection.execute(
        text(
            "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, CAST(:args AS jsonb), NULL)"
            "::procrastinate_job_to_defer_v1])"
        ),
        {"queue": PROCRASTINATE_QUEUE, "task": PROCRASTINATE_TASK, "args": json.dumps({"job_id": job_id})},
    )


class Jobs(Resource):
    def of(self, resource_id: str) -> list[schema.Job]:
        """The jobs of a resource (a scan result), whatever their status."""
        with self.sessions() as session:
            return list(session.scalars(select(schema.Job).where(schema.Job.resource_id == resource_id)))

    def claim_by_id(self, job_id: int, lease_seconds: float) -> ClaimedJob | None:
        """That job, leased to the caller, if it is queued or its lease expired; else None (done, cancelled, or
        running elsewhere)."""
        now = utcnow()
        with self.sessions.begin() as session:
            before = session.scalar(select(schema.Job.status).where(schema.Job.id == job_id))
            claimed = rows_changed(
                session,
                update(schema.Job)
                .where(schema.Job.id == job_id, _claimable(now))
                .values(status=schema.JOB_RUNNING, attempts=schema.Job.attempts + 1,
                        lease_until=now + dt.timedelta(seconds=lease_seconds))
                .execution_options(synchronize_session=False),
            )
            if not claimed:
                return None
            row = session.get(schema.Job, job_id)
            return _claimed(row, reclaimed=before == schema.JOB_RUNNING) if row is not None else None

    def claim(self, lease_seconds: float) -> ClaimedJob | None:
        """The oldest queued job, or a running one whose lease expired, now leased to the caller."""
        now = utcnow()
        times = {"now": now, "new_lease": now + dt.timedelta(seconds=lease_seconds)}
        for _ in range(20):  # another worker may win each candidate; try the next one
            with self.sessions.begin() as session:
                connection = session.connection()
                row = connection.execute(_OLDEST_CLAIMABLE, times).one_or_none()
                if row is None:
                    return None
                claimed = connection.execute(_CLAIM, {**times, "job_id": row.id}).rowcount
                if claimed:
                    payload = row.payload
                    return ClaimedJob(
                        id=row.id, scan_result_id=payload["scan_result_id"], image_id=payload["image_id"],
                        rematch=bool(payload.get("rematch")), attempts=row.attempts + 1,
                        reclaimed=row.status == schema.JOB_RUNNING,
                    )
        return None

    def lease_left(self, job_id: int) -> float | None:
        """Seconds until a running job's lease expires (0 when expired); None when it is not running."""
        with self.sessions() as session:
            row = session.get(schema.Job, job_id)
        if row is None or row.status != schema.JOB_RUNNING or row.lease_until is None:
            return None
        return max((row.lease_until - utcnow()).total_seconds(), 0.0)

    def renew_leases(self, job_ids: Sequence[int], lease_seconds: float) -> None:
        if not job_ids:
            return
        with self.sessions.begin() as session:
            session.execute(
                update(schema.Job)
                .where(schema.Job.id.in_(list(job_ids)), schema.Job.status == schema.JOB_RUNNING)
                .values(lease_until=utcnow() + dt.timedelta(seconds=lease_seconds))
            )

    def release(self, job_id: int) -> None:
        """Put a running job back in the queue (a transient failure, or a worker stopping before it finished)."""
        with self.sessions.begin() as session:
            session.execute(
                update(schema.Job)
                .where(schema.Job.id == job_id, schema.Job.status == schema.JOB_RUNNING)
                .values(status=schema.JOB_QUEUED, lease_until=None)
            )

    def finish(self, job_id: int) -> None:
        """Close a job whose scan already ended some other way (cancelled, image deleted)."""
        with self.sessions.begin() as session:
            session.execute(
                update(schema.Job)
                .where(schema.Job.id == job_id, schema.Job.status == schema.JOB_RUNNING)
                .values(status=schema.JOB_DONE, lease_until=None)
            )

    def counts(self) -> dict[str, int]:
        """{status: number of jobs}, for tests, benchmarks and the worker's log."""
        with self.sessions() as session:
            return dict(session.execute(select(schema.Job.status, func.count()).group_by(schema.Job.status)).all())


def set_status_of(session: Session, resource_id: str, status: str) -> None:
    """End the open (queued or running) jobs of a resource with `status` (a Core statement: a Job the session
    holds is not updated in memory)."""
    session.connection().execute(_SET_STATUS_OF, {"about": resource_id, "new_status": status})


_JOBS = cast(Table, schema.Job.__table__)
_SET_STATUS_OF = (
    update(_JOBS)
    .where(_JOBS.c.resource_id == bindparam("about"),
           _JOBS.c.status.in_((schema.JOB_QUEUED, schema.JOB_RUNNING)))
    .values(status=bindparam("new_status"), lease_until=None)
)


# Core statements built once: a worker claims a job per scan, and building them cost more than running them.
_CLAIMABLE = or_(
    _JOBS.c.status == schema.JOB_QUEUED,
    and_(_JOBS.c.status == schema.JOB_RUNNING, _JOBS.c.lease_until < bindparam("now")),
)
_OLDEST_CLAIMABLE = (
    select(_JOBS.c.id, _JOBS.c.payload, _JOBS.c.attempts, _JOBS.c.status)
    .where(_CLAIMABLE, _JOBS.c.kind == SCAN_JOB)
    .order_by(_JOBS.c.id)
    .limit(1)
)
_CLAIM = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job_id"), _CLAIMABLE)
    .values(status=schema.JOB_RUNNING, attempts=_JOBS.c.attempts + 1, lease_until=bindparam("new_lease"))
)


def _claimable(now: dt.datetime) -> ColumnElement[bool]:
    return or_(
        schema.Job.status == schema.JOB_QUEUED,
        and_(schema.Job.status == schema.JOB_RUNNING, schema.Job.lease_until < now),
    )


def _claimed(row: schema.Job, *, reclaimed: bool) -> ClaimedJob:
    payload = row.payload
    return ClaimedJob(
        id=row.id, scan_result_id=payload["scan_result_id"], image_id=payload["image_id"],
        rematch=bool(payload.get("rematch")), attempts=row.attempts, reclaimed=reclaimed,
    )
