"""Operations: the long-running-operation records the API returns for Scan and Delete."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session

from crscan.store import schema
from crscan.store.base import Resource, get_row
from crscan.store.schema import utcnow


class Operations(Resource):
    def get(self, operation_id: str) -> schema.Operation:
        with self.sessions() as session:
            return get_row(session, schema.Operation, operation_id, "operation")


def complete(session: Session, resource_id: str, *, response: bytes | None = None, error: bytes | None = None) -> None:
    """Mark the open operation about `resource_id` done with its response or error (a Core statement: an
    Operation the session holds is not updated in memory; refresh it)."""
    session.connection().execute(
        _COMPLETE, {"about": resource_id, "now": utcnow(), "response": response, "error": error}
    )


_OPERATIONS = cast(Table, schema.Operation.__table__)
_COMPLETE = (
    update(_OPERATIONS)
    .where(_OPERATIONS.c.resource_id == bindparam("about"), _OPERATIONS.c.done.is_(False))
    .values(done=True, modified_at=bindparam("now"), response_any=bindparam("response"),
            error_status=bindparam("error"))
)
