"""Claiming due work from a table, safely across several workers and crashes.

Any table with ``id`` and ``locked_until`` columns can be worked through this way (webhook
deliveries, messages, journey steps). A claim is a short transaction that sets ``locked_until``
(the lease); the worker then does the slow part (an HTTP call, an SMTP exchange) outside any
transaction and records the outcome in a new one. A worker that dies mid-way leaves a lease that
expires, and the row is claimed again: nothing is lost.

On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED``, so concurrent workers
never pick the same row. SQLite has one writer at a time (``BEGIN IMMEDIATE``), which serialises
claims by itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow


def claim_due(
    session: Session,
    model: Any,
    ready: ColumnElement[bool],
    *,
    limit: int,
    lease: timedelta,
    order_by: Any = None,
) -> list[int]:
    """Lease up to ``limit`` rows of ``model`` matching ``ready`` whose lease is free; return ids.

    The caller commits right after, so the lease is visible to other workers.
    """
    now: datetime = utcnow(session)
    free = or_(model.locked_until.is_(None), model.locked_until <= now)
    query = (
        select(model.id)
        .where(ready, free)
        .order_by(order_by if order_by is not None else model.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(model)
            .where(model.id.in_(ids))
            .values(locked_until=now + lease)
            .execution_options(synchronize_session=False)
        )
    return ids


def release(session: Session, model: Any, row_id: int) -> None:
    """Give a lease back early (the work is recorded)."""
    session.execute(
        update(model)
        .where(model.id == row_id)
        .values(locked_until=None)
        .execution_options(synchronize_session=False)
    )
