"""`SqlTokenRepository`: the `TokenRepository` the server and `crscan token` use, kept in the store's database
(tables `crscan.store.tokens.ApiToken`, `ApiTokenKey`, `IamToken`)."""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Hashable
from typing import Any, cast

from sqlalchemy import Engine, bindparam, delete, select
from sqlalchemy.pool import PoolProxiedConnection

from crscan.auth.interface import AuthError, IamTokenRecord, KeyRecord, Role, TokenRecord, TokenRepository
from crscan.store import Store, schema
from crscan.store.tokens import ApiToken, ApiTokenKey, IamToken

_TABLE = ApiToken.__table__
# Every request looks its token up (a revocation takes effect on the next request): one prebuilt Core statement
# on a pooled connection, a fifth of the cost of `session.get` (no statement to build, no ORM entity).
_FIND = select(
    _TABLE.c.id, _TABLE.c.role, _TABLE.c.registries, _TABLE.c.description, _TABLE.c.created_at,
    _TABLE.c.expires_at, _TABLE.c.revoked_at, _TABLE.c.secret_sha256,
).where(_TABLE.c.id == bindparam("token_id"))


def _record(row: Any) -> TokenRecord:
    """A TokenRecord of an `ApiToken` or of a row with its columns."""
    return TokenRecord(
        id=row.id,
        role=Role(row.role),
        registries=frozenset(row.registries) if row.registries is not None else None,
        description=row.description,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class SqliteDataVersion:
    """SQLite's `PRAGMA data_version` on a connection of its own: it changes whenever any other connection, of
    this process or another (`crscan token revoke`), commits to the database file. A few microseconds, no pool."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.Lock()  # one connection, many request threads
        self._connection: PoolProxiedConnection | None = None

    def __call__(self) -> int:
        with self._lock:
            if self._connection is None:
                connection = self._engine.raw_connection()
                connection.detach()  # held for the repository's life, not one of the pool's connections
                weakref.finalize(self, connection.close)
                self._connection = connection
            cursor = self._connection.cursor()
            try:
                cursor.execute("PRAGMA data_version")
                (version,) = cast("tuple[int]", cursor.fetchone())  # the pragma always answers one row
            finally:
                cursor.close()
        return version


class SqlTokenRepository(TokenRepository):
    def __init__(self, store: Store):
        self.store = store
        # PostgreSQL has no such cheap signal: there every verification reads the token's row.
        self._data_version = SqliteDataVersion(store.engine) if store.engine.dialect.name == "sqlite" else None

    def change_marker(self) -> Hashable | None:
        return self._data_version() if self._data_version is not None else None

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
        with self.store.engine.connect() as connection:
            row = connection.execute(_FIND, {"token_id": token_id}).first()
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

    def add_key(self, key: KeyRecord) -> None:
        with self.store.sessions.begin() as session:
            session.add(ApiTokenKey(id=key.id, token_id=key.token_id, public_key_pem=key.public_key_pem,
                                    created_at=key.created_at))

    def find_key(self, key_id: str) -> KeyRecord | None:
        with self.store.sessions() as session:
            row = session.get(ApiTokenKey, key_id)
            if row is None:
                return None
            return KeyRecord(id=row.id, token_id=row.token_id, public_key_pem=row.public_key_pem,
                             created_at=row.created_at)

    def add_iam_token(self, record: IamTokenRecord, secret_hash: bytes) -> None:
        with self.store.sessions.begin() as session:
            # The SDK asks for a new IAM token every 20 seconds; without this the table would only grow.
            session.execute(delete(IamToken).where(IamToken.expires_at <= record.created_at))
            session.add(IamToken(id=record.id, token_id=record.token_id, secret_sha256=secret_hash,
                                 created_at=record.created_at, expires_at=record.expires_at))

    def find_iam_token(self, iam_token_id: str) -> tuple[IamTokenRecord, bytes] | None:
        with self.store.sessions() as session:
            row = session.get(IamToken, iam_token_id)
            if row is None:
                return None
            record = IamTokenRecord(id=row.id, token_id=row.token_id, created_at=row.created_at,
                                    expires_at=row.expires_at)
            return record, row.secret_sha256

    def remove_iam_token(self, iam_token_id: str) -> None:
        with self.store.sessions.begin() as session:
            session.execute(delete(IamToken).where(IamToken.id == iam_token_id))
