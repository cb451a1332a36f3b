"""The scanning service's part of the store: scan jobs with leases, the layer-index cache, stored inventories.

Functions take a `Store`; each is one transaction. A job is claimed with one conditional UPDATE, so two
workers (threads, processes or machines sharing the database) never run the same job at once; a worker that
dies leaves a lease that expires, and the job is claimed again until its attempts run out.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import JSON, DateTime, ForeignKey, LargeBinary, String, and_, delete, func, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from yandex.cloud.containerregistry.v1 import scanner_service_pb2

from crscan import ids
from crscan.store import messages, schema
from crscan.store.interface import NotFound
from crscan.store.schema import utcnow
from crscan.store.store import RUNNING, Store

SCAN_JOB = "scan"


class LayerIndexRow(schema.Base):
    """One layer's index (crscan.scan.layer_index encoding) for one cataloger set."""

    __tablename__ = "layer_indexes"
    digest: Mapped[str] = mapped_column(String(100), primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ImageInventory(schema.Base):
    """What an image's last successful scan read: its layer digests, bottom first, and the cataloger set.
    With those layer indexes cached, the inventory is re-assembled and re-matched without the registry."""

    __tablename__ = "image_inventories"
    image_id: Mapped[str] = mapped_column(
        schema.ID, ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    cache_key: Mapped[str] = mapped_column(String(255))
    reference: Mapped[str] = mapped_column(String(2048))
    layer_digests: Mapped[list] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    scan_result_id: str
    image_id: str
    rematch: bool
    attempts: int


# SQLite has no row locks: serialise this process's check-then-insert so one image gets one running scan.
_enqueue_lock = threading.Lock()

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


def enqueue_scan(store: Store, image_id: str, *, created_by: str = "", rematch: bool = False) -> schema.Operation:
    """Start a scan of the image, or return the operation of its scan already RUNNING (one per image).

    `rematch` scans re-match the stored inventory without pulling when every layer index is cached.
    """
    now = utcnow()
    with _enqueue_lock, store.sessions.begin() as session:
        # On PostgreSQL the row lock serialises concurrent Scans of one image across processes.
        repository_id = session.scalar(
            select(schema.Image.repository_id).where(schema.Image.id == image_id).with_for_update()
        )
        if repository_id is None:
            raise NotFound("image", image_id)
        running = _running_operation(session, image_id)
        if running is not None:
            return running
        result = schema.ScanResult(
            id=ids.new_id(ids.SCAN_RESULT), image_id=image_id, repository_id=repository_id, status=RUNNING,
            scanned_at=now, created_at=now, warnings=[],
        )
        operation = schema.Operation(
            id=ids.new_id(ids.OPERATION), description="Scan image", created_at=now, created_by=created_by,
            modified_at=now, done=False,
            metadata_any=messages.pack(scanner_service_pb2.ScanMetadata(scan_result_id=result.id)),
            resource_id=result.id,
        )
        job = schema.Job(
            kind=SCAN_JOB, payload={"scan_result_id": result.id, "image_id": image_id, "rematch": rematch},
            resource_id=result.id, status=schema.JOB_QUEUED, created_at=now,
        )
        session.add_all([result, operation, job])
        session.flush()
        defer_to_procrastinate(session.connection(), job.id)
        return operation


def _running_operation(session: Session, image_id: str) -> schema.Operation | None:
    return session.scalars(
        select(schema.Operation)
        .join(schema.ScanResult, schema.ScanResult.id == schema.Operation.resource_id)
        .where(schema.ScanResult.image_id == image_id, schema.ScanResult.status == RUNNING)
        .order_by(schema.ScanResult.created_at)
        .limit(1)
    ).one_or_none()


def claim_job_by_id(store: Store, job_id: int, lease_seconds: float) -> ClaimedJob | None:
    """That job, leased to the caller, if it is queued or its lease expired; else None (done, cancelled, or
    running elsewhere)."""
    now = utcnow()
    with store.sessions.begin() as session:
        claimed = session.execute(
            update(schema.Job)
            .where(schema.Job.id == job_id, _claimable(now))
            .values(status=schema.JOB_RUNNING, attempts=schema.Job.attempts + 1,
                    lease_until=now + dt.timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            return None
        return _claimed(session.get(schema.Job, job_id))


def _claimable(now: dt.datetime):
    return or_(
        schema.Job.status == schema.JOB_QUEUED,
        and_(schema.Job.status == schema.JOB_RUNNING, schema.Job.lease_until < now),
    )


def _claimed(row: schema.Job) -> ClaimedJob:
    payload = row.payload
    return ClaimedJob(
        id=row.id, scan_result_id=payload["scan_result_id"], image_id=payload["image_id"],
        rematch=bool(payload.get("rematch")), attempts=row.attempts,
    )


def claim_job(store: Store, lease_seconds: float) -> ClaimedJob | None:
    """The oldest queued job, or a running one whose lease expired, now leased to the caller."""
    now = utcnow()
    claimable = _claimable(now)
    for _ in range(20):  # another worker may win each candidate; try the next one
        with store.sessions.begin() as session:
            row = session.scalars(
                select(schema.Job).where(claimable, schema.Job.kind == SCAN_JOB).order_by(schema.Job.id).limit(1)
            ).one_or_none()
            if row is None:
                return None
            claimed = session.execute(
                update(schema.Job)
                .where(schema.Job.id == row.id, claimable)
                .values(
                    status=schema.JOB_RUNNING,
                    attempts=schema.Job.attempts + 1,
                    lease_until=now + dt.timedelta(seconds=lease_seconds),
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed:
                payload = row.payload
                return ClaimedJob(
                    id=row.id, scan_result_id=payload["scan_result_id"], image_id=payload["image_id"],
                    rematch=bool(payload.get("rematch")), attempts=row.attempts + 1,
                )
    return None


def lease_left(store: Store, job_id: int) -> float | None:
    """Seconds until a running job's lease expires (0 when expired); None when it is not running."""
    with store.sessions() as session:
        row = session.get(schema.Job, job_id)
    if row is None or row.status != schema.JOB_RUNNING or row.lease_until is None:
        return None
    return max((row.lease_until - utcnow()).total_seconds(), 0.0)


def renew_leases(store: Store, job_ids: Sequence[int], lease_seconds: float) -> None:
    if not job_ids:
        return
    with store.sessions.begin() as session:
        session.execute(
            update(schema.Job)
            .where(schema.Job.id.in_(list(job_ids)), schema.Job.status == schema.JOB_RUNNING)
            .values(lease_until=utcnow() + dt.timedelta(seconds=lease_seconds))
        )


def release_job(store: Store, job_id: int) -> None:
    """Put a running job back in the queue (a transient failure, or a worker stopping before it finished)."""
    with store.sessions.begin() as session:
        session.execute(
            update(schema.Job)
            .where(schema.Job.id == job_id, schema.Job.status == schema.JOB_RUNNING)
            .values(status=schema.JOB_QUEUED, lease_until=None)
        )


def finish_job(store: Store, job_id: int) -> None:
    """Close a job whose scan already ended some other way (cancelled, image deleted)."""
    with store.sessions.begin() as session:
        session.execute(
            update(schema.Job)
            .where(schema.Job.id == job_id, schema.Job.status == schema.JOB_RUNNING)
            .values(status=schema.JOB_DONE, lease_until=None)
        )


def job_counts(store: Store) -> dict[str, int]:
    """{status: number of jobs}, for tests, benchmarks and the worker's log."""
    with store.sessions() as session:
        return dict(session.execute(select(schema.Job.status, func.count()).group_by(schema.Job.status)).all())


# ---- layer indexes and inventories --------------------------------------------------------------------------


def get_layer_index(store: Store, digest: str, cache_key: str) -> bytes | None:
    with store.sessions() as session:
        return session.scalar(
            select(LayerIndexRow.data).where(LayerIndexRow.digest == digest, LayerIndexRow.cache_key == cache_key)
        )


def put_layer_index(store: Store, digest: str, cache_key: str, data: bytes) -> None:
    try:
        with store.sessions.begin() as session:
            session.add(LayerIndexRow(digest=digest, cache_key=cache_key, data=data, created_at=utcnow()))
    except IntegrityError:
        pass  # another worker indexed the same layer first; indexes of one digest are identical


def save_inventory(store: Store, image_id: str, cache_key: str, reference: str, layer_digests: Sequence[str]) -> None:
    with store.sessions.begin() as session:
        session.execute(delete(ImageInventory).where(ImageInventory.image_id == image_id))
        session.add(
            ImageInventory(
                image_id=image_id, cache_key=cache_key, reference=reference, layer_digests=list(layer_digests),
                updated_at=utcnow(),
            )
        )


def get_inventory(store: Store, image_id: str) -> ImageInventory | None:
    with store.sessions() as session:
        return session.get(ImageInventory, image_id)


def inventoried_image_ids(store: Store) -> list[str]:
    with store.sessions() as session:
        return list(session.scalars(select(ImageInventory.image_id).order_by(ImageInventory.image_id)))
