"""Keyset paging shared by every List: a sort order, one page of rows, and the cursor lookup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, tuple_
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
    session: Session, model: Any, row_id: object, columns: tuple[Any, ...], **scope: object
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
    """One page after `after` in (columns) order; all columns share one direction, so a row-value comparison
    is an index range condition on both backends."""
    if after is not None:
        if len(after) != len(columns):
            raise StaleCursor("page token does not match this ordering")
        bound = tuple_(*columns)
        query = query.where(bound < tuple_(*after) if descending else bound > tuple_(*after))
    query = query.order_by(*(column.desc() if descending else column.asc() for column in columns))
    rows = list(session.scalars(query.limit(limit + 1)))
    return Page(rows=rows[:limit], has_more=len(rows) > limit)
