"""Stored inventories: what an image's last successful scan read, so a rematch needs no registry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from sqlalchemy import JSON, DateTime, ForeignKey, String, Table, bindparam, delete, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from crscan.store import schema
from crscan.store.base import Resource
from crscan.store.schema import utcnow


class ImageInventory(schema.Base):
    """What an image's last successful scan read: its layer digests, bottom first, and the cataloger set.
    With those layer indexes cached, the inventory is re-assembled and re-matched without the registry."""

    __tablename__ = "image_inventories"
    image_id: Mapped[str] = mapped_column(
        schema.ID, ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    cache_key: Mapped[str] = mapped_column(String(255))
    reference: Mapped[str] = mapped_column(String(2048))
    layer_digests: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def replace(session: Session, image_id: str, cache_key: str, reference: str, layer_digests: Sequence[str]) -> None:
    """Make this the image's stored inventory (in the caller's transaction)."""
    connection = session.connection()
    connection.execute(_DELETE, {"of_image": image_id})
    connection.execute(_INSERT, {"image_id": image_id, "cache_key": cache_key, "reference": reference,
                                 "layer_digests": list(layer_digests), "updated_at": utcnow()})


_TABLE = cast(Table, ImageInventory.__table__)
_DELETE = delete(_TABLE).where(_TABLE.c.image_id == bindparam("of_image"))
_INSERT = insert(_TABLE)


class Inventories(Resource):
    def save(self, image_id: str, cache_key: str, reference: str, layer_digests: Sequence[str]) -> None:
        with self.sessions.begin() as session:
            replace(session, image_id, cache_key, reference, layer_digests)

    def get(self, image_id: str) -> ImageInventory | None:
        with self.sessions() as session:
            return session.get(ImageInventory, image_id)

    def image_ids(self) -> list[str]:
        """Images with a stored inventory, in id order."""
        with self.sessions() as session:
            return list(session.scalars(select(ImageInventory.image_id).order_by(ImageInventory.image_id)))
