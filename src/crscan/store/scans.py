"""Scan results and their findings: starting a scan (result + operation + queued job in one transaction),
ending it (`ScanSink`), and listing results and findings."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Row, Select, Table, Update, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from crscan import ids
from crscan.config import log_event
from crscan.model import Finding, Severity, finding_status
from crscan.store import inventories, jobs, operations, schema
from crscan.store.base import OperationWriter, first_line, get_row, require_row
from crscan.store.interface import (
    InventoryRecord,
    NotFound,
    OperationCodec,
    OperationError,
    ScanAlreadyRunning,
    ScanNotRunning,
    ScanSink,
    ScanStatus,
    StoreError,
    StoreUnavailable,
)
from crscan.store.paging import Order, Page, keyset_rows, keyset_statement, values_of
from crscan.store.schema import utcnow

log = logging.getLogger(__name__)

RUNNING, READY, ERROR = ScanStatus.RUNNING, ScanStatus.READY, ScanStatus.ERROR

# The sort keys List accepts, as column tuples; `id` is appended to each as the tiebreaker.
SCAN_ORDERS = {
    "scanned_at": (schema.ScanResult.scanned_at,),
    "status": (schema.ScanResult.status,),
    "vulnerabilities": tuple(getattr(schema.ScanResult, level) for level in schema.SEVERITY_COLUMNS),
}
FINDING_ORDERS = {"severity": (schema.FindingRow.severity,), "name": (schema.FindingRow.name,)}
# What a listed scan result or finding carries (the API's fields and the sort keys), read as plain rows.
SCAN_LIST_COLUMNS = tuple(
    getattr(schema.ScanResult, name)
    for name in ("id", "image_id", "repository_id", "status", "scanned_at", *schema.SEVERITY_COLUMNS)
)
FINDING_LIST_COLUMNS = tuple(
    getattr(schema.FindingRow, name)
    for name in ("id", "severity", "name", "link", "package", "source", "version", "fixed_by", "origin", "type")
)

# A lost race against a concurrent start is retried by reading the winner; a scan can end and another start
# between the two, so bound the loop rather than spin.
_ENQUEUE_ATTEMPTS = 5


def scan_sort_values(row: Any, order: Order) -> tuple[Any, ...]:
    """The keyset cursor for `row` (a listed row or a `schema.ScanResult`): its values of the order's columns,
    then its id."""
    return tuple(getattr(row, column.key) for column in SCAN_ORDERS[order.key]) + (row.id,)


class Scans(OperationWriter, ScanSink):
    def start(self, image_id: str, created_by: str = "") -> schema.Operation:
        """A new RUNNING scan of the image, its Operation and a queued job, in one transaction; raises
        ScanAlreadyRunning when the image has one (see `enqueue` to join it instead)."""
        try:
            return self._start(image_id, created_by, rematch=False, join=False)[0]
        except IntegrityError:
            raise ScanAlreadyRunning(f"image {image_id} already has a running scan") from None

    def enqueue(self, image_id: str, *, created_by: str = "", rematch: bool = False) -> schema.Operation:
        """Start a scan of the image, or return the operation of its scan already RUNNING (one per image).

        `rematch` scans re-match the stored inventory without pulling when every layer index is cached.
        """
        return self.enqueue_or_join(image_id, created_by=created_by, rematch=rematch)[0]

    def enqueue_or_join(
        self, image_id: str, *, created_by: str = "", rematch: bool = False
    ) -> tuple[schema.Operation, bool]:
        """`enqueue`, also saying whether this call started the scan (True) or joined a running one (False).

        The unique index on RUNNING scans decides between concurrent callers in any process: the loser's
        insert fails, and it returns the winner's operation.
        """
        for _ in range(_ENQUEUE_ATTEMPTS):
            try:
                operation, started = self._start(image_id, created_by, rematch, join=True)
                if not started:
                    return operation, False
                log_event(log, "scan.queued", scan_result_id=operation.resource_id, operation_id=operation.id,
                          image_id=image_id, rematch=rematch)
                return operation, True
            except IntegrityError:
                continue  # another process started one between our read and our insert: join it
            except OperationalError as exc:  # disk full, read-only file, server gone: not the caller's fault
                raise StoreUnavailable(f"cannot queue the scan: {first_line(exc.orig or exc)}") from None
        raise StoreError(f"image {image_id}: scans keep starting and ending concurrently; try again")

    def _start(self, image_id: str, created_by: str, rematch: bool, *, join: bool) -> tuple[schema.Operation, bool]:
        """(the new scan's operation, True); with `join`, (the running scan's operation, False) when the image
        has one. One transaction: queueing a hundred images is a hundred of them."""
        now = utcnow()
        with self.sessions.begin() as session:
            connection = session.connection()
            # On PostgreSQL the row lock also keeps the image from being deleted under the new scan.
            repository_id = connection.scalar(_IMAGE_REPOSITORY, {"image_id": image_id})
            if repository_id is None:
                raise NotFound("image", image_id)
            if join and connection.scalar(_RUNNING_SCAN, {"image_id": image_id}) is not None:
                running = _running_operation(session, image_id)
                if running is not None:
                    return running, False
            operation = _new_scan(connection, self.codec, image_id, repository_id, created_by, now, rematch)
            return operation, True

    def finish(
        self,
        scan_result_id: str,
        findings: Sequence[Finding],
        counts: Mapping[Severity, int],
        build_id: str,
        warnings: Sequence[str],
        missing_risk_feeds: Sequence[str] | None = None,
        inventory: InventoryRecord | None = None,
    ) -> None:
        with self.sessions.begin() as session:
            result = _leave_running(
                session,
                scan_result_id,
                status=READY,
                feed_build_id=build_id,
                missing_risk_feeds=list(missing_risk_feeds) if missing_risk_feeds is not None else None,
                warnings=list(warnings),
                **{severity.name.lower(): int(counts.get(severity, 0)) for severity in Severity},
            )
            if findings:
                session.connection().execute(
                    _INSERT_FINDINGS, [_finding_values(scan_result_id, finding) for finding in findings]
                )
            operations.complete(session, scan_result_id, response=self.codec.scan_response(result))
            jobs.set_status_of(session, scan_result_id, schema.JOB_DONE)
            if inventory is not None:
                inventories.replace(session, result.image_id, inventory.cache_key, inventory.reference,
                                    inventory.layer_digests)

    def fail(self, scan_result_id: str, message: str, kind: OperationError = OperationError.INTERNAL) -> None:
        with self.sessions.begin() as session:
            _end_scan(session, scan_result_id, self.codec.error(kind, message), message)
            jobs.set_status_of(session, scan_result_id, schema.JOB_FAILED)

    def cancel(self, operation_id: str) -> schema.Operation:
        """Cancel the running scan an operation is about (result ERROR, job cancelled); a done operation is
        returned unchanged."""
        with self.sessions.begin() as session:
            operation = get_row(session, schema.Operation, operation_id, "operation")
            if operation.done:
                return operation
            try:
                _end_scan(
                    session,
                    operation.resource_id,
                    self.codec.error(OperationError.CANCELLED, "scan cancelled"),
                    "scan cancelled",
                )
                jobs.set_status_of(session, operation.resource_id, schema.JOB_CANCELLED)
            except ScanNotRunning:
                pass  # the scan finished between our read and our update: report how it ended
            session.refresh(operation)
            return operation

    def get(self, scan_result_id: str) -> schema.ScanResult:
        with self.sessions() as session:
            return get_row(session, schema.ScanResult, scan_result_id, "scan result")

    def view(self, scan_result_id: str) -> Row[Any]:
        """The scan result as the API shows it (a row of `SCAN_LIST_COLUMNS`); NotFound when there is none."""
        with self.connect() as connection:
            row = connection.execute(_VIEW, {"scan_result_id": scan_result_id}).one_or_none()
        if row is None:
            raise NotFound("scan result", scan_result_id)
        return row

    def last_finished(self, image_id: str) -> Row[Any] | None:
        """The image's newest READY or ERROR result (a row of `SCAN_LIST_COLUMNS`), None when it has none;
        NotFound when there is no such image."""
        with self.connect() as connection:
            row = connection.execute(_LAST_FINISHED, {"image_id": image_id}).one_or_none()
            if row is None:
                require_row(connection, schema.Image, image_id, "image")
            return row

    def page(
        self,
        *,
        image_id: str = "",
        repository_id: str = "",
        status: int | None = None,
        order: Order,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> Page:
        """Scan results (rows of `SCAN_LIST_COLUMNS`) of one image or one repository; `after` is
        `scan_sort_values` of the last row shown."""
        scope = "image" if image_id else "repository"
        statement = _scan_page(scope, status is not None, order, after is not None)
        parameters = {"scope_id": image_id or repository_id, "status": status}
        with self.connect() as connection:
            page = keyset_rows(connection, statement, parameters, len(SCAN_ORDERS[order.key]) + 1, after, limit)
            if not page.rows:  # rows prove the scope exists; only an empty page needs the extra lookup
                model = schema.Image if image_id else schema.Repository
                require_row(connection, model, image_id or repository_id, scope)
            return page

    def findings(
        self,
        scan_result_id: str,
        *,
        severity: int | None = None,
        name: str | None = None,
        order: Order,
        after_id: int | None,
        limit: int,
    ) -> Page:
        """Findings (rows of `FINDING_LIST_COLUMNS`) of a scan result; findings never change, so the cursor is
        just the last row's id."""
        model = schema.FindingRow
        columns = FINDING_ORDERS[order.key] + (model.id,)
        statement = _finding_page(severity is not None, name is not None, order, after_id is not None)
        parameters = {"scan_result_id": scan_result_id, "severity": severity, "name": name}
        with self.connect() as connection:
            after = values_of(connection, model, after_id, columns, scan_result_id=scan_result_id)
            page = keyset_rows(connection, statement, parameters, len(columns), after, limit)
            if not page.rows:
                require_row(connection, schema.ScanResult, scan_result_id, "scan result")
            return page


_INSERT_FINDINGS = insert(cast(Table, schema.FindingRow.__table__))
_LISTED = select(*SCAN_LIST_COLUMNS)
_VIEW = _LISTED.where(schema.ScanResult.id == bindparam("scan_result_id"))
_LAST_FINISHED = (
    _LISTED.where(schema.ScanResult.image_id == bindparam("image_id"), schema.ScanResult.status.in_((READY, ERROR)))
    .order_by(schema.ScanResult.scanned_at.desc(), schema.ScanResult.id.desc())
    .limit(1)
)


@functools.cache
def _scan_page(scope: str, by_status: bool, order: Order, after: bool) -> Select[Any]:
    """The statement of one shape of scan-result page (see `keyset_statement`)."""
    model = schema.ScanResult
    query = _LISTED.where(getattr(model, f"{scope}_id") == bindparam("scope_id"))
    if by_status:
        query = query.where(model.status == bindparam("status"))
    return keyset_statement(query, SCAN_ORDERS[order.key] + (model.id,), order.descending, after)


@functools.cache
def _finding_page(by_severity: bool, by_name: bool, order: Order, after: bool) -> Select[Any]:
    model = schema.FindingRow
    query = select(*FINDING_LIST_COLUMNS).where(model.scan_result_id == bindparam("scan_result_id"))
    if by_severity:
        query = query.where(model.severity == bindparam("severity"))
    if by_name:
        query = query.where(model.name == bindparam("name"))
    return keyset_statement(query, FINDING_ORDERS[order.key] + (model.id,), order.descending, after)


def _new_scan(
    connection: Connection, codec: OperationCodec, image_id: str, repository_id: str, created_by: str,
    now: dt.datetime, rematch: bool,
) -> schema.Operation:
    """A RUNNING scan result of the image, the open Operation about it and its queued job (handed to
    procrastinate too, where it runs); returns the Operation (not in any session). Core inserts: a push of a
    hundred images queues a hundred scans, and the ORM's unit of work cost more than the inserts."""
    scan_result_id = ids.new_id(ids.SCAN_RESULT)
    connection.execute(_INSERT_RESULT, {
        "id": scan_result_id, "image_id": image_id, "repository_id": repository_id, "status": RUNNING,
        "scanned_at": now, "created_at": now, "warnings": [],
    })
    operation = schema.Operation(
        id=ids.new_id(ids.OPERATION),
        description="Scan image",
        created_at=now,
        created_by=created_by,
        modified_at=now,
        done=False,
        metadata_any=codec.scan_metadata(scan_result_id),
        response_any=None,
        error_status=None,
        resource_id=scan_result_id,
    )
    connection.execute(_INSERT_OPERATION, {column.key: getattr(operation, column.key) for column in
                                           cast(Table, schema.Operation.__table__).columns})
    job_key = connection.execute(_INSERT_JOB, {
        "kind": jobs.SCAN_JOB, "payload": {"scan_result_id": scan_result_id, "image_id": image_id, "rematch": rematch},
        "resource_id": scan_result_id, "status": schema.JOB_QUEUED, "created_at": now,
    }).inserted_primary_key
    job_id = cast("Row[Any]", job_key)[0]  # a single-row insert always has its key
    jobs.defer_to_procrastinate(connection, job_id)
    return operation


_IMAGES, _RESULTS = cast(Table, schema.Image.__table__), cast(Table, schema.ScanResult.__table__)
_IMAGE_REPOSITORY = select(_IMAGES.c.repository_id).where(_IMAGES.c.id == bindparam("image_id")).with_for_update()
_RUNNING_SCAN = (
    select(_RESULTS.c.id).where(_RESULTS.c.image_id == bindparam("image_id"), _RESULTS.c.status == RUNNING).limit(1)
)
_INSERT_RESULT = insert(_RESULTS)
_INSERT_OPERATION = insert(cast(Table, schema.Operation.__table__))
_INSERT_JOB = insert(cast(Table, schema.Job.__table__))


def _running_operation(session: Session, image_id: str) -> schema.Operation | None:
    return session.scalars(
        select(schema.Operation)
        .join(schema.ScanResult, schema.ScanResult.id == schema.Operation.resource_id)
        .where(schema.ScanResult.image_id == image_id, schema.ScanResult.status == RUNNING)
        .order_by(schema.ScanResult.created_at)
        .limit(1)
    ).one_or_none()


def running_scan_ids(session: Session, image_id: str) -> list[str]:
    return list(
        session.scalars(
            select(schema.ScanResult.id).where(
                schema.ScanResult.image_id == image_id, schema.ScanResult.status == RUNNING
            )
        )
    )


def _leave_running(session: Session, scan_result_id: str, **values: Any) -> Row[Any]:
    """Move a scan out of RUNNING with one conditional UPDATE, so a finish racing a cancel has exactly
    one winner on both backends; the loser gets ScanNotRunning. Returns the result as it is now (a row of
    `SCAN_LIST_COLUMNS`)."""
    statement = _leave_running_statement(tuple(sorted(values)))
    parameters = {f"new_{name}": value for name, value in values.items()}
    connection = session.connection()
    claimed = connection.execute(
        statement, {"scan_result_id": scan_result_id, "new_scanned_at": utcnow(), **parameters}
    ).rowcount
    result = connection.execute(_VIEW, {"scan_result_id": scan_result_id}).one_or_none()
    if result is None:
        raise NotFound("scan result", scan_result_id)
    if not claimed:
        raise ScanNotRunning(f"scan result {scan_result_id} is {ScanStatus(result.status).name}, not RUNNING")
    return result


@functools.cache
def _leave_running_statement(columns: tuple[str, ...]) -> Update:
    """The conditional UPDATE of `_leave_running` setting `columns` (and scanned_at), built once per shape:
    building it costs more than running it."""
    table = cast(Table, schema.ScanResult.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("scan_result_id"), table.c.status == RUNNING)
        .values({name: bindparam(f"new_{name}") for name in ("scanned_at", *columns)})
    )


def _end_scan(session: Session, scan_result_id: str, error: bytes, message: str) -> None:
    _leave_running(session, scan_result_id, status=ERROR, error_message=message)
    operations.complete(session, scan_result_id, error=error)


def _finding_values(scan_result_id: str, finding: Finding) -> dict[str, Any]:
    return {
        "scan_result_id": scan_result_id,
        "severity": int(finding.severity),
        "name": finding.name,
        "link": finding.link,
        "package": finding.package,
        "source": finding.source,
        "version": finding.version,
        "fixed_by": finding.fixed_by,
        "status": finding.status or finding_status(finding.fixed_by),
        "origin": finding.origin,
        "type": finding.type,
        "advisory_id": finding.advisory_id,
        "severity_source": finding.severity_source,
        "layer_digest": finding.layer.digest if finding.layer else "",
        "path": finding.path,
        "cvss_score": finding.cvss_score,
        "cvss_vector": finding.cvss_vector,
        "kev": finding.kev is not None,
        "kev_date_added": finding.kev.date_added if finding.kev else "",
        "kev_due_date": finding.kev.due_date if finding.kev else "",
        "epss_score": finding.epss.score if finding.epss else None,
        "epss_percentile": finding.epss.percentile if finding.epss else None,
        "epss_date": finding.epss.score_date if finding.epss else "",
    }
