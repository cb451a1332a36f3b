"""The API tokens table, and which registry a resource belongs to (what a token's scope is checked on).

The table is declared here, on the store's metadata, so migrations see it (created by migration 0003); the
repository that reads and writes it is `crscan.auth.SqlTokenRepository`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, LargeBinary, SmallInteger, String, select
from sqlalchemy.orm import Mapped, mapped_column

from crscan.store import schema
from crscan.store.store import Store


class ApiToken(schema.Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(schema.ID, primary_key=True)
    role: Mapped[int] = mapped_column(SmallInteger)  # Role value
    registries: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # null: every registry
    description: Mapped[str] = mapped_column(String(256), default="")
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


def registry_of(store: Store, kind: str, resource_id: str) -> str | None:
    """The registry a resource belongs to; None when it does not exist (or, for an operation, when its resource
    is gone, as after an image Delete). `kind`: registry, repository, image, scan_result or operation."""
    Repository, Image, ScanResult = schema.Repository, schema.Image, schema.ScanResult
    queries = {
        "registry": lambda rid: select(schema.Registry.id).where(schema.Registry.id == rid),
        "repository": lambda rid: select(Repository.registry_id).where(Repository.id == rid),
        "image": lambda rid: select(Repository.registry_id).join(Image).where(Image.id == rid),
        "scan_result": lambda rid: select(Repository.registry_id)
        .join(ScanResult, ScanResult.repository_id == Repository.id)
        .where(ScanResult.id == rid),
        "scan_policy": lambda rid: select(schema.ScanPolicy.registry_id).where(schema.ScanPolicy.id == rid),
    }
    with store.sessions() as session:
        if kind != "operation":
            return session.scalar(queries[kind](resource_id))
        target = session.scalar(select(schema.Operation.resource_id).where(schema.Operation.id == resource_id))
        if target is None:
            return None
        for resource_kind in ("scan_result", "image", "scan_policy"):  # what operations are about
            registry_id = session.scalar(queries[resource_kind](target))
            if registry_id is not None:
                return registry_id
        return None
