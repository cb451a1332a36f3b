"""API tokens in the database, and which registry a resource belongs to (what a token's scope is checked on).

`SqlTokenRepository` is the `crscan.auth.TokenRepository` the server and `crscan token` use. The table is
declared here, on the store's metadata, and created by migration 0003.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, LargeBinary, SmallInteger, String, select
from sqlalchemy.orm import Mapped, mapped_column

from crscan.auth.interface import AuthError, Role, TokenRecord, TokenRepository
from crscan.store import schema
from crscan.store.store import Store


class ApiToken(schema.Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(schema.ID, primary_key=True)
    role: Mapped[int] = mapped_column(SmallInteger)  # Role value
    registries: Mapped[list | None] = mapped_column(JSON, nullable=True)  # null: every registry
    description: Mapped[str] = mapped_column(String(256), default="")
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


def _record(row: ApiToken) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        role=Role(row.role),
        registries=frozenset(row.registries) if row.registries is not None else None,
        description=row.description,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class SqlTokenRepository(TokenRepository):
    def __init__(self, store: Store):
        self.store = store

    def add(self, record: TokenRecord, secret_hash: bytes) -> None:
        with self.store.sessions.begin() as session:
            for registry_id in sorted(record.registries or ()):
                if session.get(schema.Registry, registry_id) is None:
                    raise AuthError(f"registry {registry_id} not found: scope a token to registries crscan knows")
            session.add(
                ApiToken(
                    id=record.id,
                    role=int(record.role),
                    registries=sorted(record.registries) if record.registries is not None else None,
                    description=record.description,
                    secret_sha256=secret_hash,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    revoked_at=record.revoked_at,
                )
            )

    def find(self, token_id: str) -> tuple[TokenRecord, bytes] | None:
        with self.store.sessions() as session:
            row = session.get(ApiToken, token_id)
            return (_record(row), row.secret_sha256) if row is not None else None

    def all(self) -> list[TokenRecord]:
        with self.store.sessions() as session:
            rows = session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id))
            return [_record(row) for row in rows]

    def revoke(self, token_id: str, at: dt.datetime) -> TokenRecord:
        with self.store.sessions.begin() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise AuthError(f"token {token_id} not found")
            if row.revoked_at is None:
                row.revoked_at = at
            return _record(row)


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
