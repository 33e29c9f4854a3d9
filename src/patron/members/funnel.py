"""Funnel stage: user → customer → member → fan, derived by these rules (docs/members.md):

* **fan** — registered, and either at least ``FAN_MIN_ORDERS`` purchases in the last
  ``FAN_WINDOW_DAYS`` days or an engagement score of at least ``FAN_MIN_ENGAGEMENT``;
* **member** — registered in the loyalty program;
* **customer** — at least one purchase that was not fully refunded;
* **user** — anyone else the merchant can reach (a contact, a lead).

A stage can go down as well as up (a fan who stops buying becomes a member again); every move
is kept in ``funnel_transitions`` with its time and reason. Live moves are stamped when they
happen; a history imported after the fact is replayed by :func:`stage_path`, each move dated
when the rules say it happened (docs/decisions/0664-funnel-moves-at-history-dates.md).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.events import emit
from patron.members.models import FunnelStage, FunnelTransition, Member
from patron.members.summary import id_in
from patron.orders.models import Order, OrderStatus

FAN_MIN_ORDERS = 3
FAN_WINDOW_DAYS = 365
FAN_MIN_ENGAGEMENT = 10
COUNTED_STATUSES = (OrderStatus.COMPLETED.value, OrderStatus.PARTIALLY_REFUNDED.value)


def stage_for(
    registered: bool, orders_count: int, recent_orders: int, engagement_score: int
) -> FunnelStage:
    """The stage the rules give for these facts."""
    if registered and (recent_orders >= FAN_MIN_ORDERS or engagement_score >= FAN_MIN_ENGAGEMENT):
        return FunnelStage.FAN
    if registered:
        return FunnelStage.MEMBER
    if orders_count > 0:
        return FunnelStage.CUSTOMER
    return FunnelStage.USER


def stage_at(at: datetime, registered_at: datetime | None, orders: Sequence[datetime]) -> str:
    """The stage the rules give at ``at`` from dated facts alone: registered by then, purchases
    by then (``orders``: times of counted purchases, sorted). Engagement has no dates: 0."""
    registered = registered_at is not None and registered_at <= at
    done = bisect_right(orders, at)
    recent = done - bisect_left(orders, at - timedelta(days=FAN_WINDOW_DAYS))
    return stage_for(registered, done, recent, 0).value


def stage_path(
    stage: str,
    since: datetime,
    registered_at: datetime | None,
    orders: Sequence[datetime],
    now: datetime,
    final: str,
) -> list[tuple[str, str, datetime]]:
    """The moves ``(from, to, at)`` of a member who was in ``stage`` at ``since``, replayed from
    its history up to ``now`` and ending in ``final`` (the stage the live rules give now).

    A stage can only change when a fact does: at registration, at a purchase, or when a
    purchase leaves the fan window. Each such instant after ``since`` is evaluated with
    :func:`stage_at`; a last move at ``now`` reaches ``final`` when what decides it has no date
    (an engagement score).
    """
    window = timedelta(days=FAN_WINDOW_DAYS, microseconds=1)
    instants = set(orders) | {o + window for o in orders}
    if registered_at is not None:
        instants.add(registered_at)
    moves: list[tuple[str, str, datetime]] = []
    for at in sorted(t for t in instants if since < t <= now):
        reached = stage_at(at, registered_at, orders)
        if reached != stage:
            moves.append((stage, reached, at))
            stage = reached
    if final != stage:
        moves.append((stage, final, now))
    return moves


def recompute_funnel(
    session: Session,
    merchant_id: int,
    member_ids: Iterable[int],
    reason: str,
    *,
    announce: bool = True,
) -> dict[int, str]:
    """Re-derive the stage of these members; record and announce each move. Returns the moves.

    ``announce=False`` (bulk imports) records the moves without a ``member.stage_changed``
    event each: the import announces itself once instead (docs/decisions/0650-…).
    """
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    session.flush()
    now = utcnow(session)
    moves: dict[int, str] = {}
    for start in range(0, len(ids), 1000):
        moves.update(
            _recompute_chunk(session, merchant_id, ids[start : start + 1000], reason, now, announce)
        )
    return moves


def _recompute_chunk(
    session: Session,
    merchant_id: int,
    ids: list[int],
    reason: str,
    now: datetime,
    announce: bool = True,
) -> dict[int, str]:
    since = recent_orders_since(now)
    # Core statements on the session's connection: these run for every member an order import
    # touches, and the ORM's result machinery would cost more than the queries.
    connection = session.connection()
    recent: dict[int, int] = dict(
        connection.execute(  # type: ignore[arg-type]
            select(Order.member_id, func.count())
            .where(
                Order.merchant_id == merchant_id,
                id_in(Order.member_id, ids, session),
                Order.placed_at >= since,
                Order.status.in_(COUNTED_STATUSES),
            )
            .group_by(Order.member_id)
        ).all()
    )
    rows = connection.execute(
        select(
            Member.id,
            Member.registered_at,
            Member.orders_count,
            Member.engagement_score,
            Member.funnel_stage,
        ).where(Member.merchant_id == merchant_id, id_in(Member.id, ids, session))
    ).all()
    return _move(session, merchant_id, rows, recent, reason, now, announce)


def recent_orders_since(now: datetime) -> datetime:
    """Orders placed since this moment count towards the fan stage (for
    :func:`recompute_funnel_of`)."""
    return now - timedelta(days=FAN_WINDOW_DAYS)


def recompute_funnel_of(
    session: Session, merchant_id: int, row: Sequence[Any], recent_orders: int, reason: str
) -> dict[int, str]:
    """:func:`recompute_funnel` for one member whose ``(id, registered_at, orders_count,
    engagement_score, funnel_stage)`` and orders since :func:`recent_orders_since` the caller
    has just read (an order's ``UPDATE members … RETURNING``): no read of its own."""
    now = utcnow(session)
    return _move(session, merchant_id, [row], {row[0]: recent_orders}, reason, now, True)


def _move(
    session: Session,
    merchant_id: int,
    rows: Sequence[Sequence[Any]],
    recent: dict[int, int],
    reason: str,
    now: datetime,
    announce: bool,
) -> dict[int, str]:
    connection = session.connection()
    moves: dict[int, str] = {}
    transitions: list[dict[str, Any]] = []
    for member_id, registered_at, orders_count, engagement, current in rows:
        new = stage_for(
            registered_at is not None, orders_count, recent.get(member_id, 0), engagement
        )
        if new.value == current:
            continue
        moves[member_id] = new.value
        transitions.append(
            {
                "merchant_id": merchant_id,
                "member_id": member_id,
                "from_stage": current,
                "to_stage": new.value,
                "moved_at": now,
                "reason": reason,
            }
        )
    if not transitions:
        return moves
    for stage in {t["to_stage"] for t in transitions}:
        session.execute(
            update(Member)
            .where(id_in(Member.id, [m for m, s in moves.items() if s == stage], session))
            .values(funnel_stage=stage)
            .execution_options(synchronize_session=False)
        )
    table = FunnelTransition.__table__
    assert isinstance(table, Table)
    connection.execute(insert(table), transitions)
    for t in transitions if announce else []:
        member_id = int(t["member_id"])
        emit(
            session,
            merchant_id,
            "member.stage_changed",
            {
                "member_id": t["member_id"],
                "from": t["from_stage"],
                "to": t["to_stage"],
                "reason": reason,
            },
            subject_id=t["member_id"],
        )
    return moves


def record_initial_stage(session: Session, member: Member, reason: str) -> None:
    """The first stage of a new member (the move from nothing)."""
    session.add(
        FunnelTransition(
            merchant_id=member.merchant_id,
            member_id=member.id,
            from_stage=None,
            to_stage=member.funnel_stage,
            moved_at=utcnow(session),
            reason=reason,
        )
    )


def decay_fans(session: Session, merchant_id: int | None = None, batch: int = 5000) -> int:
    """Re-derive the stage of fans whose recent purchases may have aged out (scheduled)."""
    cutoff = utcnow(session) - timedelta(days=FAN_WINDOW_DAYS)
    query = select(Member.merchant_id, Member.id).where(
        Member.funnel_stage == FunnelStage.FAN.value,
        Member.engagement_score < FAN_MIN_ENGAGEMENT,
        Member.first_order_at.is_not(None),
        Member.first_order_at < cutoff,
    )
    if merchant_id is not None:
        query = query.where(Member.merchant_id == merchant_id)
    by_merchant: dict[int, list[int]] = {}
    for m_id, member_id in session.execute(query.limit(batch)):
        by_merchant.setdefault(m_id, []).append(member_id)
    moved = 0
    for m_id, ids in by_merchant.items():
        moved += len(recompute_funnel(session, m_id, ids, "purchases older than a year"))
    return moved
