"""The layer-index cache: one layer's index per cataloger set, shared by every worker (layers never change)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, LargeBinary, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from crscan.store import schema
from crscan.store.base import Resource
from crscan.store.schema import utcnow


class LayerIndexRow(schema.Base):
    """One layer's index (crscan.scan.layer_index encoding) for one cataloger set."""

    __tablename__ = "layer_indexes"
    digest: Mapped[str] = mapped_column(String(100), primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LayerCache(Resource):
    def get(self, digest: str, cache_key: str) -> bytes | None:
        with self.sessions() as session:
            return session.scalar(
                select(LayerIndexRow.data).where(LayerIndexRow.digest == digest, LayerIndexRow.cache_key == cache_key)
            )

    def put(self, digest: str, cache_key: str, data: bytes) -> None:
        try:
            with self.sessions.begin() as session:
                session.add(LayerIndexRow(digest=digest, cache_key=cache_key, data=data, created_at=utcnow()))
        except IntegrityError:
            pass  # another worker indexed the same layer first; indexes of one digest are identical
