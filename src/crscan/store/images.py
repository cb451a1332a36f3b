"""Images of repositories, with their layer blobs; deleting one ends its running scans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from crscan import ids
from crscan.store import jobs, operations, scans, schema
from crscan.store.base import OperationWriter, get_row
from crscan.store.interface import OperationError, StoreError
from crscan.store.paging import Order, Page, keyset, values_of
from crscan.store.schema import utcnow

IMAGE_ORDERS = {"created_at": (schema.Image.created_at,), "digest": (schema.Image.digest,)}


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int
    media_type: str = ""


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
            after = values_of(session, model, after_id, columns)
            return keyset(session, query, columns, order.descending, after, limit)
