"""What every per-resource part of the store shares: the session factory and lookups that raise `NotFound`."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sqlalchemy import Connection, CursorResult, Engine, Executable, select
from sqlalchemy.orm import Session, sessionmaker

from crscan.store import schema
from crscan.store.interface import NotFound, OperationCodec

Row = TypeVar("Row", bound=schema.Base)


class Resource:
    """One resource's reads and writes; each public method is one transaction on `sessions`."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def connect(self) -> Connection:
        """A pooled connection for reads of plain rows (no Session, no ORM entities): listings and hot Gets."""
        engine: Engine = self.sessions.kw["bind"]
        return engine.connect()


class OperationWriter(Resource):
    """A resource whose writes record operations; their payloads are serialized by `codec`."""

    def __init__(self, sessions: sessionmaker[Session], codec: OperationCodec):
        super().__init__(sessions)
        self.codec = codec


def get_row(session: Session, model: type[Row], row_id: str, resource: str) -> Row:
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(resource, row_id)
    return row


def require_row(session: Session | Connection, model: type[schema.Base], row_id: str, resource: str) -> None:
    """Like `get_row` without loading the row (and its eager relationships)."""
    column: Any = getattr(model, "id")  # noqa: B009  every resource table has an `id` primary key
    if session.scalar(select(column).where(column == row_id)) is None:
        raise NotFound(resource, row_id)


def first_line(error: BaseException) -> str:
    """A driver error's first line: enough to say what failed, without the SQL or the parameters."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def rows_changed(session: Session, statement: Executable) -> int:
    """Execute an UPDATE and return how many rows it changed (the claim of a conditional update)."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount
