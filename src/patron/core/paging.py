"""One page of a list query: newest first by id, after a cursor (ADR 0006)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")


def newest_first(
    query: Select[T], id_column: InstrumentedAttribute[int], limit: int | None, cursor: int | None
) -> Select[T]:
    """``query`` as a page when ``limit`` is given: ids below ``cursor``, newest first,
    ``limit + 1`` rows so that ``page_of`` knows whether another page follows. Without a
    limit the query is returned as it is (the dashboard shows these short lists whole)."""
    if limit is None:
        return query
    query = query.order_by(None).order_by(id_column.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(id_column < cursor)
    return query
