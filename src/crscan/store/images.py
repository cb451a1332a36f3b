"""Images of repositories, with their layer blobs; deleting one ends its running scans."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from crscan import ids
from crscan.store import jobs, operations, scans, schema
from crscan.store.base import OperationWriter, get_row
from crscan.store.interface import NotFound, OperationError, StoreError
from crscan.store.paging import Order, Page, keyset_rows, keyset_statement, values_of
from crscan.store.schema import utcnow

IMAGE_ORDERS = {"created_at": (schema.Image.created_at,), "digest": (schema.Image.digest,)}


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int
    media_type: str = ""


@dataclass(frozen=True)
class ScanTarget:
    """What a scan job needs to pull an image: its digest and tags, its repository's name and its registry."""

    image_id: str
    digest: str
    tags: list[str]
    repository_name: str
    registry: schema.Registry


_SCAN_TARGET = (
    select(schema.Image.digest, schema.Image.tags, schema.Repository.name, schema.Registry)
    .select_from(schema.Image)
    .join(schema.Repository, schema.Repository.id == schema.Image.repository_id)
    .join(schema.Registry, schema.Registry.id == schema.Repository.registry_id)
    .where(schema.Image.id == bindparam("image_id"))
)


@dataclass(frozen=True)
class ImageView:
    """An image as the API shows it, read with column selects: a listing builds a hundred of these, and ORM
    entities (identity map, a joined repository, a selectin of layers) cost several times more."""

    id: str
    registry_id: str
    repository_path: str  # the repository's name inside its registry ("team/app")
    digest: str
    tags: list[str]
    config_digest: str
    config_size: int
    compressed_size: int
    created_at: dt.datetime
    layers: tuple[Layer, ...]


_VIEW_COLUMNS: tuple[Any, ...] = (
    schema.Image.id,
    schema.Repository.registry_id,
    schema.Repository.name,
    schema.Image.digest,
    schema.Image.tags,
    schema.Image.config_digest,
    schema.Image.config_size,
    schema.Image.compressed_size,
    schema.Image.created_at,
)


_VIEW_QUERY = select(*_VIEW_COLUMNS).select_from(schema.Image).join(schema.Repository)
_VIEW = _VIEW_QUERY.where(schema.Image.id == bindparam("image_id"))
_LAYERS = (
    select(schema.ImageLayer.image_id, schema.ImageLayer.digest, schema.ImageLayer.size, schema.ImageLayer.media_type)
    .where(schema.ImageLayer.image_id.in_(bindparam("image_ids", expanding=True)))
    .order_by(schema.ImageLayer.image_id, schema.ImageLayer.position)
)


@functools.cache
def _image_page(by_repository: bool, by_registry: bool, by_folder: bool, scoped: bool, order: Order, after: bool
                ) -> Select[Any]:
    """The statement of one shape of image page (see `keyset_statement`)."""
    query = _VIEW_QUERY
    if by_folder:
        query = query.join(schema.Registry).where(schema.Registry.folder_id == bindparam("folder_id"))
    if by_repository:
        query = query.where(schema.Image.repository_id == bindparam("repository_id"))
    if by_registry:
        query = query.where(schema.Repository.registry_id == bindparam("registry_id"))
    if scoped:
        query = query.where(schema.Repository.registry_id.in_(bindparam("registry_ids", expanding=True)))
    return keyset_statement(query, IMAGE_ORDERS[order.key] + (schema.Image.id,), order.descending, after)


def _views(connection: Connection, rows: Sequence[Any]) -> list[ImageView]:
    """ImageViews of image rows selected as `_VIEW_COLUMNS`, their layers read in one query."""
    layers: dict[str, list[Layer]] = {row.id: [] for row in rows}
    if rows:
        for image_id, digest, size, media_type in connection.execute(_LAYERS, {"image_ids": list(layers)}):
            layers[image_id].append(Layer(digest, size, media_type))
    return [
        ImageView(
            id=row.id, registry_id=row.registry_id, repository_path=row.name, digest=row.digest, tags=row.tags,
            config_digest=row.config_digest, config_size=row.config_size, compressed_size=row.compressed_size,
            created_at=row.created_at, layers=tuple(layers[row.id]),
        )
        for row in rows
    ]


class Images(OperationWriter):
    def add(
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
            get_row(session, schema.Repository, repository_id, "repository")
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

    def get(self, image_id: str) -> schema.Image:
        with self.sessions() as session:
            return get_row(session, schema.Image, image_id, "image")

    def scan_target(self, image_id: str) -> ScanTarget:
        """The image with its repository's name and its registry, in one query (a worker asks once per scan);
        NotFound when there is no such image."""
        with self.sessions() as session:
            row = session.execute(_SCAN_TARGET, {"image_id": image_id}).one_or_none()
        if row is None:
            raise NotFound("image", image_id)
        digest, tags, repository_name, registry = row
        return ScanTarget(image_id, digest, list(tags), repository_name, registry)

    def view(self, image_id: str) -> ImageView:
        """The image as the API shows it; NotFound when there is none."""
        with self.connect() as connection:
            row = connection.execute(_VIEW, {"image_id": image_id}).one_or_none()
            if row is None:
                raise NotFound("image", image_id)
            return _views(connection, [row])[0]

    def delete(self, image_id: str, created_by: str = "") -> schema.Operation:
        """Delete the image with its scan results; running scans of it end with ABORTED."""
        with self.sessions.begin() as session:
            get_row(session, schema.Image, image_id, "image")
            for scan_result_id in scans.running_scan_ids(session, image_id):
                operations.complete(
                    session,
                    scan_result_id,
                    error=self.codec.error(OperationError.ABORTED, f"image {image_id} was deleted"),
                )
                jobs.set_status_of(session, scan_result_id, schema.JOB_CANCELLED)
            session.execute(delete(schema.Image).where(schema.Image.id == image_id))
            now = utcnow()
            row = schema.Operation(
                id=ids.new_id(ids.OPERATION),
                description="Delete image",
                created_at=now,
                created_by=created_by,
                modified_at=now,
                done=True,
                metadata_any=self.codec.delete_image_metadata(image_id),
                response_any=self.codec.delete_image_response(),
                resource_id=image_id,
            )
            session.add(row)
            return row

    def page(
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
        """ImageViews of the images matching every given constraint (repository, registry, folder, a caller's
        scope)."""
        model = schema.Image
        statement = _image_page(bool(repository_id), bool(registry_id), bool(folder_id), registry_ids is not None,
                                order, after_id is not None)
        parameters = {"repository_id": repository_id, "registry_id": registry_id, "folder_id": folder_id,
                      "registry_ids": sorted(registry_ids or ())}
        columns = IMAGE_ORDERS[order.key] + (model.id,)
        with self.connect() as connection:
            after = values_of(connection, model, after_id, columns)
            page = keyset_rows(connection, statement, parameters, len(columns), after, limit)
            return Page(rows=_views(connection, page.rows), has_more=page.has_more)
