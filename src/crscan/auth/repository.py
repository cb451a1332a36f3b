"""`SqlTokenRepository`: the `TokenRepository` the server and `crscan token` use, kept in the store's database
(table `crscan.store.tokens.ApiToken`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crscan.auth.interface import AuthError, Role, TokenRecord, TokenRepository
from crscan.store import Store, schema
from crscan.store.tokens import ApiToken


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
