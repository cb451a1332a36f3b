"""Operations: the long-running-operation records the API returns for Scan and Delete."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from crscan.store import schema
from crscan.store.base import Resource, get_row
from crscan.store.schema import utcnow


class Operations(Resource):
    def get(self, operation_id: str) -> schema.Operation:
        with self.sessions() as session:
            return get_row(session, schema.Operation, operation_id, "operation")


def complete(session: Session, resource_id: str, *, response: bytes | None = None, error: bytes | None = None) -> None:
    """Mark the open operation about `resource_id` done with its response or error."""
    session.execute(
        update(schema.Operation)
        .where(schema.Operation.resource_id == resource_id, schema.Operation.done.is_(False))
        .values(done=True, modified_at=utcnow(), response_any=response, error_status=error)
    )
