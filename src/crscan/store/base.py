"""What every per-resource part of the store shares: the session factory and lookups that raise `NotFound`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crscan.store.interface import NotFound, OperationCodec


class Resource:
    """One resource's reads and writes; each public method is one transaction on `sessions`."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions


class OperationWriter(Resource):
    """A resource whose writes record operations; their payloads are serialized by `codec`."""

    def __init__(self, sessions: sessionmaker[Session], codec: OperationCodec):
        super().__init__(sessions)
        self.codec = codec


def get_row(session: Session, model, row_id: str, resource: str):
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(resource, row_id)
    return row


def require_row(session: Session, model, row_id: str, resource: str) -> None:
    """Like `get_row` without loading the row (and its eager relationships)."""
    if session.scalar(select(model.id).where(model.id == row_id)) is None:
        raise NotFound(resource, row_id)
