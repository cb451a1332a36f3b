"""Keyset paging shared by every List: a sort order, one page of rows, and the cursor lookup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select, tuple_
from sqlalchemy.orm import Session

from crscan.store.interface import StaleCursor


@dataclass(frozen=True)
class Order:
    """A sort key name from one of the *_ORDERS tables and its direction (the tiebreaker id follows it)."""

    key: str
    descending: bool = False


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    has_more: bool


def values_of(
    session: Session | Connection, model: Any, row_id: object, columns: tuple[Any, ...], **scope: object
) -> tuple[Any, ...] | None:
    """The sort values of the row a cursor names; rows sorted by immutable columns need only their id."""
    if row_id is None:
        return None
    query = select(*columns).where(model.id == row_id, *(getattr(model, k) == v for k, v in scope.items()))
    values = session.execute(query).one_or_none()
    if values is None:
        raise StaleCursor("page token refers to a row that no longer exists; start from the first page")
    return tuple(values)


def keyset(
    session: Session,
    query: Select[Any],
    columns: tuple[Any, ...],
    descending: bool,
    after: tuple[Any, ...] | None,
    limit: int,
) -> Page:
    """One page of the entities `query` selects after `after` in (columns) order; all columns share one
    direction, so a row-value comparison is an index range condition on both backends."""
    rows = list(session.scalars(_after(query, columns, descending, after).limit(limit + 1)))
    return Page(rows=rows[:limit], has_more=len(rows) > limit)


def keyset_statement(query: Select[Any], columns: tuple[Any, ...], descending: bool, after: bool) -> Select[Any]:
    """`keyset`'s query with every value a bound parameter (`after_0`…, `limit`), so it is built once per shape
    (scope, filters, order, first or later page) and reused: building a statement costs more than running it."""
    bound = tuple(bindparam(f"after_{i}", type_=column.type) for i, column in enumerate(columns)) if after else None
    return _after(query, columns, descending, bound).limit(bindparam("limit"))


def keyset_rows(
    connection: Connection, statement: Select[Any], parameters: dict[str, Any], columns: int,
    after: tuple[Any, ...] | None, limit: int,
) -> Page:
    """One page of a `keyset_statement` of columns: plain rows (attributes named like the columns), no ORM
    entities to build and track, which is most of a List's cost when a page holds a hundred of them."""
    if after is not None:
        if len(after) != columns:
            raise StaleCursor("page token does not match this ordering")
        parameters = parameters | {f"after_{i}": value for i, value in enumerate(after)}
    rows = connection.execute(statement, parameters | {"limit": limit + 1}).all()
    return Page(rows=list(rows[:limit]), has_more=len(rows) > limit)


def _after(query: Select[Any], columns: tuple[Any, ...], descending: bool, after: tuple[Any, ...] | None
           ) -> Select[Any]:
    if after is not None:
        if len(after) != len(columns):
            raise StaleCursor("page token does not match this ordering")
        bound = tuple_(*columns)
        query = query.where(bound < tuple_(*after) if descending else bound > tuple_(*after))
    return query.order_by(*(column.desc() if descending else column.asc() for column in columns))
