"""Domain events, written to the outbox in the same transaction as their cause.

The worker reads the outbox after commit: webhooks fan out from it today; messages and journey
steps ride on it later. An event is never lost (it commits with its cause) and never fanned out
twice (``fanned_out_at`` is set in the same transaction as the deliveries it creates).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, and_, event, insert, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from patron.core.clock import utcnow
from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.request_id import acting_for, current_request_id
from patron.core.tenant_keys import MerchantScoped

log = logging.getLogger("patron.core.events")


class current_tx(FunctionElement[int]):
    """The writing transaction's id on PostgreSQL (``txid_current()``, 64-bit, never wraps);
    NULL on SQLite, whose writers commit one at a time in id order (ADR 0009)."""

    type = BigInteger()
    inherit_cache = True


@compiles(current_tx)
def _current_tx_default(element: current_tx, compiler: SQLCompiler, **kw: Any) -> str:
    return "NULL"


@compiles(current_tx, "postgresql")
def _current_tx_pg(element: current_tx, compiler: SQLCompiler, **kw: Any) -> str:
    return "txid_current()"


class OutboxEvent(MerchantScoped, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_pending", "fanned_out_at", "id"),
        Index("ix_outbox_events_tx", "tx_id", "id"),
    )

    type: Mapped[str] = mapped_column(String(80))
    subject_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The id of the transaction that wrote the event (PostgreSQL only): consumers read in
    # (tx_id, id) order behind the oldest open writer, so a late commit is never skipped.
    tx_id: Mapped[int | None] = mapped_column(
        BigInteger, nullable=True, insert_default=current_tx()
    )
    # The request that caused the event (X-Request-ID), so the worker's log lines about it can
    # be found from the request's; set by default on every insert, bulk ones included.
    request_id: Mapped[str | None] = mapped_column(
        String(128), nullable=True, default=current_request_id
    )


def emit(
    session: Session,
    merchant_id: int,
    type_: str,
    payload: dict[str, Any],
    subject_id: int | None = None,
) -> OutboxEvent:
    """Record a domain event; it commits (or rolls back) with the caller's transaction."""
    event = OutboxEvent(
        merchant_id=merchant_id,
        type=type_,
        subject_id=subject_id,
        payload=payload,
        occurred_at=utcnow(session),
    )
    held: list[tuple[OutboxEvent, SessionTransaction | None]] | None = session.info.get(_HELD)
    if held is None:
        session.add(event)
    else:
        held.append((event, session.get_nested_transaction()))
    return event


_HELD = "patron.held_events"


@contextmanager
def events_batched(session: Session) -> Iterator[None]:
    """Hold the events emitted inside and write them together at the end, with one statement
    instead of one INSERT per flush (checkout: ADR 0372). The objects ``emit`` returned inside
    are not added to the session (they get no id).

    Events emitted inside a savepoint that is rolled back are dropped, as ``session.add`` would
    have had them dropped; if the block raises, none is kept. Inside, an emitted event is not
    in the session yet: code that reads the outbox back in the same block must not use this."""
    if _HELD in session.info:  # already batching: the outer block adds them
        yield
        return
    held: list[tuple[OutboxEvent, SessionTransaction | None]] = []
    session.info[_HELD] = held
    try:
        yield
    finally:
        session.info.pop(_HELD, None)
    if held:  # Core executemany: one statement on both databases (the ORM does one per row
        # on SQLite, where it cannot match RETURNING rows to objects); nobody reads their ids.
        session.execute(
            insert(OutboxEvent),
            [
                {
                    "merchant_id": e.merchant_id,
                    "type": e.type,
                    "subject_id": e.subject_id,
                    "payload": e.payload,
                    "occurred_at": e.occurred_at,
                }
                for e, _tx in held
            ],
        )


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    held: list[tuple[OutboxEvent, SessionTransaction | None]] | None = session.info.get(_HELD)
    if not held:
        return

    def inside(tx: SessionTransaction | None) -> bool:
        while tx is not None:
            if tx is rolled_back:
                return True
            tx = tx.parent
        return False

    held[:] = [(e, tx) for e, tx in held if not inside(tx)]


# The event type registry. Each domain registers the names it emits (at import time), so
# webhook endpoints can subscribe to them and a typo in a subscription is refused.
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_registry: dict[str, None] = {}  # an ordered set: the catalogue lists names as registered
_registry_lock = threading.Lock()


def register_event_types(*names: str) -> None:
    """Add event type names (``domain.happening``) to the catalogue; repeats are a no-op."""
    for name in names:
        if not _EVENT_NAME.match(name):
            raise ValueError(f"event type {name!r} must look like 'domain.happening'")
    with _registry_lock:
        for name in names:
            _registry.setdefault(name, None)


def known_event_types() -> tuple[str, ...]:
    """Every registered event type, in registration order."""
    with _registry_lock:
        return tuple(_registry)


register_event_types(
    "member.created",
    "member.updated",
    "member.merged",
    "member.stage_changed",
    "member.consent_changed",
    "order.created",
    "order.refunded",
    "import.completed",
)


class ConsumerCursor(Base):
    """How far one consumer of the outbox (segments, coupons, journeys …) has read, by event id."""

    __tablename__ = "outbox_cursors"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId, default=0)
    # PostgreSQL: the transaction id of the last event read; the cursor is (last_tx_id, id).
    last_tx_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


_WRAP = 1 << 32


def _pg_horizon(session: Session) -> int:
    """A transaction id below which every transaction that could write to this database has
    ended: the oldest transaction id still held by a session of this database, or the next id
    to be handed out when none is. Transactions of other databases on the same server are
    ignored (a long report elsewhere does not hold our consumers back), and so are the server's
    own workers (an autovacuum ANALYZE holds a transaction id but never writes the outbox).

    ``pg_stat_activity.backend_xid`` is 32-bit; it is widened with the epoch of the snapshot's
    ``xmax`` (live ids are within 2^31 of it). The snapshot is read first, so any session that
    gets an id after the activity list was read gets one at or above it."""
    snap_xmax, own = session.execute(
        text(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, "
            "txid_current_if_assigned()"
        )
    ).one()
    # A snapshot's xmax is the newest *finished* id + 1: our own open transaction may be at or
    # above it, and the events it wrote itself are visible to it (ids below own + 1 that are
    # not in the activity list have ended).
    xmax = max(int(snap_xmax), int(own) + 1 if own is not None else 0)
    live = session.execute(
        text(
            "SELECT backend_xid::text FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xid IS NOT NULL "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    ).scalars()
    horizon = xmax
    for raw in live:
        xid = (xmax & ~(_WRAP - 1)) | int(raw)
        if xid > xmax:
            xid -= _WRAP
        horizon = min(horizon, xid)
    return horizon


def consume_outbox(
    session: Session,
    consumer: str,
    handle: Callable[[list[OutboxEvent]], None],
    *,
    batch: int = 500,
) -> int:
    """Pass the events past ``consumer``'s cursor (in commit order, up to ``batch``) to
    ``handle`` and move the cursor past them, in the caller's transaction. Returns how many
    events were read.

    The cursor row is locked, so two workers never hand the same events to the same consumer; if
    ``handle`` fails the transaction rolls back and the cursor with it, and the events come again.

    Order: SQLite commits one writer at a time, so event ids grow in commit order and the cursor
    is an id. On PostgreSQL a transaction can take id 10 and commit after another has committed
    id 11; reading by id would skip 10 for ever. There events are read in (transaction id, id)
    order and only from transactions older than every open writer of this database, so once
    read past, nothing can still appear behind the cursor (ADR 0009).
    """
    cursor = session.get(ConsumerCursor, consumer, with_for_update=True)
    if cursor is None:
        cursor = ConsumerCursor(
            name=consumer, last_event_id=0, last_tx_id=0, updated_at=utcnow(session)
        )
        session.add(cursor)
        session.flush()
    query = select(OutboxEvent)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        last_tx = cursor.last_tx_id or 0
        query = query.where(
            OutboxEvent.tx_id < _pg_horizon(session),
            or_(
                OutboxEvent.tx_id > last_tx,
                and_(OutboxEvent.tx_id == last_tx, OutboxEvent.id > cursor.last_event_id),
            ),
        ).order_by(OutboxEvent.tx_id, OutboxEvent.id)
    else:
        query = query.where(OutboxEvent.id > cursor.last_event_id).order_by(OutboxEvent.id)
    events = list(session.scalars(query.limit(batch)))
    if not events:
        return 0
    handle(events)
    if log.isEnabledFor(logging.DEBUG):
        for ev in events:
            with acting_for(ev.request_id):
                log.debug(
                    "outbox event handled",
                    extra={"consumer": consumer, "event_id": ev.id, "event_type": ev.type},
                )
    cursor.last_event_id = events[-1].id
    if postgres:
        cursor.last_tx_id = events[-1].tx_id or 0
    cursor.updated_at = utcnow(session)
    return len(events)
