"""`Store`: every read and write the API and the pipeline make, each method one transaction."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import empty_pb2
from google.rpc import status_pb2
from sqlalchemy import Select, delete, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from yandex.cloud.containerregistry.v1 import image_service_pb2, scanner_pb2, scanner_service_pb2

from crscan import ids
from crscan.model import Finding, Severity
from crscan.store import messages, schema
from crscan.store.engine import make_engine, upgrade
from crscan.store.interface import NotFound, ScanNotRunning, ScanSink, StaleCursor, StoreError
from crscan.store.schema import utcnow

RUNNING = scanner_pb2.ScanResult.RUNNING
READY = scanner_pb2.ScanResult.READY
ERROR = scanner_pb2.ScanResult.ERROR

PAGE_TOKEN_KEY = "page_token_key"

# The sort keys List accepts, as column tuples; `id` is appended to each as the tiebreaker.
SCAN_ORDERS = {
    "scanned_at": (schema.ScanResult.scanned_at,),
    "status": (schema.ScanResult.status,),
    "vulnerabilities": tuple(getattr(schema.ScanResult, level) for level in schema.SEVERITY_COLUMNS),
}
FINDING_ORDERS = {"severity": (schema.FindingRow.severity,), "name": (schema.FindingRow.name,)}
REGISTRY_ORDERS = {"name": (schema.Registry.name,)}
REPOSITORY_ORDERS = {"name": (schema.Repository.name,)}
IMAGE_ORDERS = {"created_at": (schema.Image.created_at,), "digest": (schema.Image.digest,)}


@dataclass(frozen=True)
class Order:
    """A sort key name from one of the *_ORDERS tables and its direction (the tiebreaker id follows it)."""

    key: str
    descending: bool = False


@dataclass(frozen=True)
class Page:
    rows: list
    has_more: bool


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int
    media_type: str = ""


def scan_sort_values(row: schema.ScanResult, order: Order) -> tuple:
    """The keyset cursor for `row`: its values of the order's columns, then its id."""
    return tuple(getattr(row, column.key) for column in SCAN_ORDERS[order.key]) + (row.id,)


def _status(code: grpc.StatusCode, message: str) -> bytes:
    return status_pb2.Status(code=code.value[0], message=message).SerializeToString()


class Store(ScanSink):
    """The database behind crscan. `Store(url).migrate()` once, then call the methods from any thread."""

    def __init__(self, database_url: str):
        self.engine = make_engine(database_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._page_token_key: bytes | None = None

    def migrate(self) -> None:
        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def page_token_key(self) -> bytes:
        """The installation's page-token signing key, created on first use and shared by every server process."""
        if self._page_token_key is None:
            with self.sessions.begin() as session:
                existing = session.get(schema.Setting, PAGE_TOKEN_KEY)
            if existing is None:
                try:
                    with self.sessions.begin() as session:
                        session.add(schema.Setting(name=PAGE_TOKEN_KEY, value=secrets.token_bytes(32)))
                except IntegrityError:  # another process created it first; use theirs
                    pass
                with self.sessions.begin() as session:
                    existing = session.get(schema.Setting, PAGE_TOKEN_KEY)
            self._page_token_key = existing.value
        return self._page_token_key

    # ---- registries, repositories, images ------------------------------------------------------------

    def add_registry(
        self,
        name: str,
        url: str,
        *,
        folder_id: str,
        insecure: bool = False,
        username: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> schema.Registry:
        row = schema.Registry(
            id=ids.new_id(ids.REGISTRY),
            folder_id=folder_id,
            name=name,
            url=url,
            insecure=insecure,
            username=username,
            labels=dict(labels or {}),
            created_at=utcnow(),
        )
        try:
            with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise StoreError(f"registry {name!r} already exists in folder {folder_id}") from None
        return row

    def add_repository(self, registry_id: str, name: str) -> schema.Repository:
        """The repository `name` of the registry, created if it is new."""
        with self.sessions.begin() as session:
            self._get(session, schema.Registry, registry_id, "registry")
            row = session.scalars(
                select(schema.Repository).where(
                    schema.Repository.registry_id == registry_id, schema.Repository.name == name
                )
            ).one_or_none()
            if row is None:
                row = schema.Repository(id=ids.new_id(ids.REPOSITORY), registry_id=registry_id, name=name)
                session.add(row)
                session.flush()
                session.refresh(row)
            return row

    def add_image(
        self,
        repository_id: str,
        digest: str,
        *,
        tags: Iterable[str] = (),
        config_digest: str = "",
        config_size: int = 0,
        layers: Sequence[Layer] = (),
        created_at: dt.datetime | None = None,
    ) -> schema.Image:
        """Record an image of the repository; compressed size is the sum of its layer blobs."""
        with self.sessions.begin() as session:
            self._get(session, schema.Repository, repository_id, "repository")
            row = schema.Image(
                id=ids.new_id(ids.IMAGE),
                repository_id=repository_id,
                digest=digest,
                tags=list(tags),
                config_digest=config_digest,
                config_size=config_size,
                compressed_size=sum(layer.size for layer in layers),
                created_at=created_at or utcnow(),
                layers=[
                    schema.ImageLayer(position=i, digest=layer.digest, size=layer.size, media_type=layer.media_type)
                    for i, layer in enumerate(layers)
                ],
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                raise StoreError(f"image {digest} already exists in repository {repository_id}") from None
            session.refresh(row)
            return row

    def get_registry(self, registry_id: str) -> schema.Registry:
        with self.sessions() as session:
            return self._get(session, schema.Registry, registry_id, "registry")

    def get_repository(self, repository_id: str) -> schema.Repository:
        with self.sessions() as session:
            return self._get(session, schema.Repository, repository_id, "repository")

    def find_repository(self, registry_id: str, name: str) -> schema.Repository | None:
        with self.sessions() as session:
            return session.scalars(
                select(schema.Repository).where(
                    schema.Repository.registry_id == registry_id, schema.Repository.name == name
                )
            ).one_or_none()

    def get_image(self, image_id: str) -> schema.Image:
        with self.sessions() as session:
            return self._get(session, schema.Image, image_id, "image")

    def get_scan_result(self, scan_result_id: str) -> schema.ScanResult:
        with self.sessions() as session:
            return self._get(session, schema.ScanResult, scan_result_id, "scan result")

    def get_operation(self, operation_id: str) -> schema.Operation:
        with self.sessions() as session:
            return self._get(session, schema.Operation, operation_id, "operation")

    def delete_image(self, image_id: str, created_by: str = "") -> schema.Operation:
        """Delete the image with its scan results; running scans of it end with ABORTED."""
        with self.sessions.begin() as session:
            self._get(session, schema.Image, image_id, "image")
            running = session.scalars(
                select(schema.ScanResult.id).where(
                    schema.ScanResult.image_id == image_id, schema.ScanResult.status == RUNNING
                )
            ).all()
            for scan_result_id in running:
                self._complete_operation(
                    session, scan_result_id, error=_status(grpc.StatusCode.ABORTED, f"image {image_id} was deleted")
                )
                self._set_job_status(session, scan_result_id, schema.JOB_CANCELLED)
            session.execute(delete(schema.Image).where(schema.Image.id == image_id))
            now = utcnow()
            row = schema.Operation(
                id=ids.new_id(ids.OPERATION),
                description="Delete image",
                created_at=now,
                created_by=created_by,
                modified_at=now,
                done=True,
                metadata_any=messages.pack(image_service_pb2.DeleteImageMetadata(image_id=image_id)),
                response_any=messages.pack(empty_pb2.Empty()),
                resource_id=image_id,
            )
            session.add(row)
            return row

    # ---- scans ----------------------------------------------------------------------------------------

    def start_scan(self, image_id: str, created_by: str = "") -> schema.Operation:
        """A RUNNING scan result, its Operation and a queued job, all in one transaction."""
        now = utcnow()
        with self.sessions.begin() as session:
            image = self._get(session, schema.Image, image_id, "image")
            result = schema.ScanResult(
                id=ids.new_id(ids.SCAN_RESULT),
                image_id=image_id,
                repository_id=image.repository_id,
                status=RUNNING,
                scanned_at=now,
                created_at=now,
                warnings=[],
            )
            operation = schema.Operation(
                id=ids.new_id(ids.OPERATION),
                description="Scan image",
                created_at=now,
                created_by=created_by,
                modified_at=now,
                done=False,
                metadata_any=messages.pack(scanner_service_pb2.ScanMetadata(scan_result_id=result.id)),
                resource_id=result.id,
            )
            job = schema.Job(
                kind="scan",
                payload={"scan_result_id": result.id, "image_id": image_id},
                resource_id=result.id,
                status=schema.JOB_QUEUED,
                created_at=now,
            )
            session.add_all([result, operation, job])
            return operation

    def finish_scan(
        self,
        scan_result_id: str,
        findings: Sequence[Finding],
        counts: Mapping[Severity, int],
        build_id: str,
        warnings: Sequence[str],
    ) -> None:
        with self.sessions.begin() as session:
            result = self._leave_running(
                session,
                scan_result_id,
                status=READY,
                feed_build_id=build_id,
                warnings=list(warnings),
                **{severity.name.lower(): int(counts.get(severity, 0)) for severity in Severity},
            )
            if findings:
                session.execute(
                    schema.FindingRow.__table__.insert(),
                    [_finding_values(scan_result_id, finding) for finding in findings],
                )
            self._complete_operation(session, scan_result_id, response=messages.pack(messages.scan_result(result)))
            self._set_job_status(session, scan_result_id, schema.JOB_DONE)

    def fail_scan(self, scan_result_id: str, message: str) -> None:
        with self.sessions.begin() as session:
            self._end_scan(session, scan_result_id, _status(grpc.StatusCode.INTERNAL, message), message)
            self._set_job_status(session, scan_result_id, schema.JOB_FAILED)

    def cancel_operation(self, operation_id: str) -> schema.Operation:
        """Cancel a running scan (result ERROR, job cancelled); a done operation is returned unchanged."""
        with self.sessions.begin() as session:
            operation = self._get(session, schema.Operation, operation_id, "operation")
            if operation.done:
                return operation
            try:
                self._end_scan(
                    session, operation.resource_id, _status(grpc.StatusCode.CANCELLED, "scan cancelled"),
                    "scan cancelled",
                )
                self._set_job_status(session, operation.resource_id, schema.JOB_CANCELLED)
            except ScanNotRunning:
                pass  # the scan finished between our read and our update: report how it ended
            session.refresh(operation)
            return operation

    def last_finished_scan(self, image_id: str) -> schema.ScanResult | None:
        with self.sessions() as session:
            self._get(session, schema.Image, image_id, "image")
            return session.scalars(
                select(schema.ScanResult)
                .where(schema.ScanResult.image_id == image_id, schema.ScanResult.status.in_((READY, ERROR)))
                .order_by(schema.ScanResult.scanned_at.desc(), schema.ScanResult.id.desc())
                .limit(1)
            ).one_or_none()

    def jobs(self, resource_id: str) -> list[schema.Job]:
        with self.sessions() as session:
            return list(session.scalars(select(schema.Job).where(schema.Job.resource_id == resource_id)))

    # ---- keyset listing -------------------------------------------------------------------------------

    def list_scan_results(
        self,
        *,
        image_id: str = "",
        repository_id: str = "",
        status: int | None = None,
        order: Order,
        after: tuple | None,
        limit: int,
    ) -> Page:
        """Scan results of one image or one repository; `after` is `scan_sort_values` of the last row shown."""
        model = schema.ScanResult
        with self.sessions() as session:
            if image_id:
                query = select(model).where(model.image_id == image_id)
                scope = (schema.Image, image_id, "image")
            else:
                query = select(model).where(model.repository_id == repository_id)
                scope = (schema.Repository, repository_id, "repository")
            if status is not None:
                query = query.where(model.status == status)
            page = _keyset(session, query, SCAN_ORDERS[order.key] + (model.id,), order.descending, after, limit)
            if not page.rows:  # rows prove the scope exists; only an empty page needs the extra lookup
                self._require(session, *scope)
            return page

    def list_findings(
        self,
        scan_result_id: str,
        *,
        severity: int | None = None,
        name: str | None = None,
        order: Order,
        after_id: int | None,
        limit: int,
    ) -> Page:
        """Findings of a scan result; findings never change, so the cursor is just the last row's id."""
        model = schema.FindingRow
        with self.sessions() as session:
            query = select(model).where(model.scan_result_id == scan_result_id)
            if severity is not None:
                query = query.where(model.severity == severity)
            if name is not None:
                query = query.where(model.name == name)
            columns = FINDING_ORDERS[order.key] + (model.id,)
            after = _values_of(session, model, after_id, columns, scan_result_id=scan_result_id)
            page = _keyset(session, query, columns, order.descending, after, limit)
            if not page.rows:
                self._require(session, schema.ScanResult, scan_result_id, "scan result")
            return page

    def list_registries(
        self,
        folder_id: str,
        *,
        name: str | None,
        registry_ids: Collection[str] | None = None,
        order: Order,
        after_id: str | None,
        limit: int,
    ) -> Page:
        """Registries of a folder; `registry_ids` (a caller's scope) limits them further, in the query."""
        model = schema.Registry
        with self.sessions() as session:
            query = select(model).where(model.folder_id == folder_id)
            if registry_ids is not None:
                query = query.where(model.id.in_(sorted(registry_ids)))
            if name is not None:
                query = query.where(model.name == name)
            columns = REGISTRY_ORDERS[order.key] + (model.id,)
            after = _values_of(session, model, after_id, columns)
            return _keyset(session, query, columns, order.descending, after, limit)

    def list_repositories(
        self,
        *,
        registry_id: str = "",
        folder_id: str = "",
        name: str | None = None,
        registry_ids: Collection[str] | None = None,
        order: Order,
        after_id: str | None,
        limit: int,
    ) -> Page:
        """Repositories matching every given constraint; `name` is the path in the registry, `registry_ids`
        a caller's scope."""
        model = schema.Repository
        with self.sessions() as session:
            query = select(model).join(schema.Registry)
            if registry_id:
                query = query.where(model.registry_id == registry_id)
            if folder_id:
                query = query.where(schema.Registry.folder_id == folder_id)
            if name is not None:
                query = query.where(model.name == name)
            if registry_ids is not None:
                query = query.where(model.registry_id.in_(sorted(registry_ids)))
            columns = REPOSITORY_ORDERS[order.key] + (model.id,)
            after = _values_of(session, model, after_id, columns)
            return _keyset(session, query, columns, order.descending, after, limit)

    def list_images(
        self,
        *,
        repository_id: str = "",
        registry_id: str = "",
        folder_id: str = "",
        registry_ids: Collection[str] | None = None,
        order: Order,
        after_id: str | None,
        limit: int,
    ) -> Page:
        """Images matching every given constraint (repository, registry, folder, a caller's scope)."""
        model = schema.Image
        with self.sessions() as session:
            query = select(model).join(schema.Repository).join(schema.Registry)
            if repository_id:
                query = query.where(model.repository_id == repository_id)
            if registry_id:
                query = query.where(schema.Repository.registry_id == registry_id)
            if folder_id:
                query = query.where(schema.Registry.folder_id == folder_id)
            if registry_ids is not None:
                query = query.where(schema.Repository.registry_id.in_(sorted(registry_ids)))
            columns = IMAGE_ORDERS[order.key] + (model.id,)
            after = _values_of(session, model, after_id, columns)
            return _keyset(session, query, columns, order.descending, after, limit)

    # ---- helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def _get(session: Session, model, row_id: str, resource: str):
        row = session.get(model, row_id)
        if row is None:
            raise NotFound(resource, row_id)
        return row

    @staticmethod
    def _require(session: Session, model, row_id: str, resource: str) -> None:
        """Like `_get` without loading the row (and its eager relationships)."""
        if session.scalar(select(model.id).where(model.id == row_id)) is None:
            raise NotFound(resource, row_id)

    def _leave_running(self, session: Session, scan_result_id: str, **values) -> schema.ScanResult:
        """Move a scan out of RUNNING with one conditional UPDATE, so a finish racing a cancel has exactly
        one winner on both backends; the loser gets ScanNotRunning."""
        model = schema.ScanResult
        claimed = session.execute(
            update(model)
            .where(model.id == scan_result_id, model.status == RUNNING)
            .values(scanned_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        ).rowcount
        result = self._get(session, model, scan_result_id, "scan result")
        if not claimed:
            state = scanner_pb2.ScanResult.Status.Name(result.status)
            raise ScanNotRunning(f"scan result {scan_result_id} is {state}, not RUNNING")
        session.refresh(result)
        return result

    def _end_scan(self, session: Session, scan_result_id: str, error: bytes, message: str) -> None:
        self._leave_running(session, scan_result_id, status=ERROR, error_message=message)
        self._complete_operation(session, scan_result_id, error=error)

    @staticmethod
    def _complete_operation(
        session: Session, scan_result_id: str, *, response: bytes | None = None, error: bytes | None = None
    ) -> None:
        session.execute(
            update(schema.Operation)
            .where(schema.Operation.resource_id == scan_result_id, schema.Operation.done.is_(False))
            .values(done=True, modified_at=utcnow(), response_any=response, error_status=error)
        )

    @staticmethod
    def _set_job_status(session: Session, scan_result_id: str, status: str) -> None:
        session.execute(
            update(schema.Job)
            .where(
                schema.Job.resource_id == scan_result_id,
                schema.Job.status.in_((schema.JOB_QUEUED, schema.JOB_RUNNING)),
            )
            .values(status=status, lease_until=None)
        )


def _finding_values(scan_result_id: str, finding: Finding) -> dict:
    return {
        "scan_result_id": scan_result_id,
        "severity": int(finding.severity),
        "name": finding.name,
        "link": finding.link,
        "package": finding.package,
        "source": finding.source,
        "version": finding.version,
        "fixed_by": finding.fixed_by,
        "origin": finding.origin,
        "type": finding.type,
        "advisory_id": finding.advisory_id,
        "severity_source": finding.severity_source,
        "layer_digest": finding.layer.digest if finding.layer else "",
        "path": finding.path,
    }


def _values_of(session: Session, model, row_id, columns, **scope) -> tuple | None:
    """The sort values of the row a cursor names; rows sorted by immutable columns need only their id."""
    if row_id is None:
        return None
    query = select(*columns).where(model.id == row_id, *(getattr(model, k) == v for k, v in scope.items()))
    values = session.execute(query).one_or_none()
    if values is None:
        raise StaleCursor("page token refers to a row that no longer exists; start from the first page")
    return tuple(values)


def _keyset(
    session: Session, query: Select, columns: tuple, descending: bool, after: tuple | None, limit: int
) -> Page:
    """One page after `after` in (columns) order; all columns share one direction, so a row-value comparison
    is an index range condition on both backends."""
    if after is not None:
        if len(after) != len(columns):
            raise StaleCursor("page token does not match this ordering")
        bound = tuple_(*columns)
        query = query.where(bound < tuple_(*after) if descending else bound > tuple_(*after))
    query = query.order_by(*(column.desc() if descending else column.asc() for column in columns))
    rows = list(session.scalars(query.limit(limit + 1)))
    return Page(rows=rows[:limit], has_more=len(rows) > limit)
