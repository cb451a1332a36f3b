"""The layer-index cache: one layer's index per cataloger set, shared by every worker (layers never change)."""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import DateTime, LargeBinary, String, Table, bindparam, insert, select
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


# Core statements on plain connections: every scan looks up each of its layers, and a Session per lookup cost
# more than the lookup.
_TABLE = cast(Table, LayerIndexRow.__table__)
_GET = select(_TABLE.c.data).where(_TABLE.c.digest == bindparam("of_digest"), _TABLE.c.cache_key == bindparam("key"))
_PUT = insert(_TABLE)


class LayerCache(Resource):
    def get(self, digest: str, cache_key: str) -> bytes | None:
        with self.connect() as connection:
            data: bytes | None = connection.scalar(_GET, {"of_digest": digest, "key": cache_key})
            return data

    def put(self, digest: str, cache_key: str, data: bytes) -> None:
        try:
            with self.connect() as connection:
                connection.execute(_PUT, {"digest": digest, "cache_key": cache_key, "data": data,
                                          "created_at": utcnow()})
                connection.commit()
        except IntegrityError:
            pass  # another worker indexed the same layer first; indexes of one digest are identical
