"""Funnel stages of imported members, each move dated by the history it comes from.

An import brings the past: orders placed last year, a "member since" date. Stamping the moves
that history causes with the time of the import would put every customer in the month of the
import and leave the months before empty. Instead the moves are replayed from the history
(:func:`patron.members.funnel.stage_path`): customer at the first purchase, member at the
member-since date, fan at the third purchase within a year, and back when purchases age out.

Members whose funnel history was written only by imports are replayed from their first known
date (the earliest of created, member since and first purchase): a customer imported today and
whose orders are imported next week ends up with one history, as if both files had come
together. A member with live moves (the till, the portal) keeps them; the import's moves are
added after the last one. See docs/decisions/0664-funnel-moves-at-history-dates.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.members.funnel import COUNTED_STATUSES, FAN_WINDOW_DAYS, stage_for, stage_path
from patron.members.models import FunnelStage, FunnelTransition, Member
from patron.members.summary import id_in
from patron.orders.models import Order

# Reasons the import writes: a history made only of these may be replayed from its start.
IMPORT_REASONS = frozenset({"import", "customer import", "order import"})
CREATED_REASON = "import"
_CHUNK = 1000
_EARLIER = timedelta(microseconds=1)

Move = tuple[str | None, str, datetime]


def replay_funnel(session: Session, merchant_id: int, member_ids: set[int], reason: str) -> int:
    """Re-derive the stage of these members from their history; returns how many moved.

    Only members whose stage changes, or whose history starts before their first recorded
    move, are looked at closely; a re-import of the same file therefore writes nothing.
    """
    ids = sorted(member_ids)
    if not ids:
        return 0
    session.flush()
    now = utcnow(session)
    changed = 0
    for start in range(0, len(ids), _CHUNK):
        changed += _replay_chunk(session, merchant_id, ids[start : start + _CHUNK], reason, now)
    return changed


def _replay_chunk(
    session: Session, merchant_id: int, ids: list[int], reason: str, now: datetime
) -> int:
    connection = session.connection()
    recent = dict(
        connection.execute(
            select(Order.member_id, func.count())
            .where(
                Order.merchant_id == merchant_id,
                id_in(Order.member_id, ids, session),
                Order.placed_at >= now - timedelta(days=FAN_WINDOW_DAYS),
                Order.status.in_(COUNTED_STATUSES),
            )
            .group_by(Order.member_id)
        ).all()
    )
    facts: dict[int, dict[str, Any]] = {}
    for row in connection.execute(
        select(
            Member.id,
            Member.created_at,
            Member.registered_at,
            Member.first_order_at,
            Member.orders_count,
            Member.engagement_score,
            Member.funnel_stage,
        ).where(Member.merchant_id == merchant_id, id_in(Member.id, ids, session))
    ):
        final = stage_for(
            row.registered_at is not None,
            row.orders_count,
            recent.get(row.id, 0),
            row.engagement_score,
        ).value
        first = min(t for t in (row.created_at, row.registered_at, row.first_order_at) if t)
        if final != row.funnel_stage or first < row.created_at:
            facts[row.id] = {**row._asdict(), "final": final, "first": first}
    if not facts:
        return 0
    return _rewrite(session, merchant_id, facts, reason, now)


def _histories(
    session: Session, merchant_id: int, ids: list[int]
) -> tuple[dict[int, list[tuple[Move, str]]], dict[int, list[datetime]]]:
    """Each member's recorded moves (with their reasons) and the times of counted purchases."""
    connection = session.connection()
    moves: dict[int, list[tuple[Move, str]]] = defaultdict(list)
    for member_id, from_stage, to_stage, moved_at, why in connection.execute(
        select(
            FunnelTransition.member_id,
            FunnelTransition.from_stage,
            FunnelTransition.to_stage,
            FunnelTransition.moved_at,
            FunnelTransition.reason,
        )
        .where(
            FunnelTransition.merchant_id == merchant_id,
            id_in(FunnelTransition.member_id, ids, session),
        )
        .order_by(FunnelTransition.member_id, FunnelTransition.moved_at, FunnelTransition.id)
    ):
        moves[member_id].append(((from_stage, to_stage, _utc(moved_at)), why))
    orders: dict[int, list[datetime]] = defaultdict(list)
    for buyer, placed_at in connection.execute(
        select(Order.member_id, Order.placed_at)
        .where(
            Order.merchant_id == merchant_id,
            id_in(Order.member_id, ids, session),
            Order.status.in_(COUNTED_STATUSES),
        )
        .order_by(Order.member_id, Order.placed_at)
    ):
        if buyer is not None:
            orders[buyer].append(_utc(placed_at))
    return moves, orders


def planned_moves(
    fact: dict[str, Any], recorded: list[tuple[Move, str]], orders: list[datetime], now: datetime
) -> tuple[list[Move], list[Move]]:
    """``(keep, add)``: the recorded moves that stay and the moves to write after them."""
    registered = _utc(fact["registered_at"]) if fact["registered_at"] else None
    if all(why in IMPORT_REASONS for _move, why in recorded):
        start = _utc(fact["first"])
        replay: list[Move] = [(None, FunnelStage.USER.value, start)]
        replay += stage_path(
            FunnelStage.USER.value, start - _EARLIER, registered, orders, now, fact["final"]
        )
        stored = [move for move, _why in recorded]
        if replay[: len(stored)] == stored:
            return stored, replay[len(stored) :]
        return [], replay
    stored = [move for move, _why in recorded]
    last_stage, last_at = stored[-1][1], stored[-1][2]
    return stored, list(stage_path(last_stage, last_at, registered, orders, now, fact["final"]))


def _rewrite(
    session: Session,
    merchant_id: int,
    facts: dict[int, dict[str, Any]],
    reason: str,
    now: datetime,
) -> int:
    ids = sorted(facts)
    recorded, orders = _histories(session, merchant_id, ids)
    replaced: list[int] = []
    new_rows: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    for member_id in ids:
        fact = facts[member_id]
        keep, add = planned_moves(fact, recorded[member_id], orders[member_id], now)
        if len(keep) < len(recorded[member_id]):
            replaced.append(member_id)
        new_rows += [
            {
                "merchant_id": merchant_id,
                "member_id": member_id,
                "from_stage": from_stage,
                "to_stage": to_stage,
                "moved_at": at,
                "reason": CREATED_REASON if from_stage is None else reason,
            }
            for from_stage, to_stage, at in add
        ]
        members.append(
            {
                "b_id": member_id,
                "b_stage": fact["final"],
                "b_created": min(_utc(fact["created_at"]), _utc(fact["first"])),
            }
        )
    _write(session, merchant_id, replaced, new_rows, members)
    return sum(1 for f in facts.values() if f["final"] != f["funnel_stage"])


def _write(
    session: Session,
    merchant_id: int,
    replaced: list[int],
    new_rows: list[dict[str, Any]],
    members: list[dict[str, Any]],
) -> None:
    connection = session.connection()
    moves = FunnelTransition.__table__
    table = Member.__table__
    assert isinstance(moves, Table) and isinstance(table, Table)
    if replaced:
        connection.execute(
            delete(moves).where(
                moves.c.merchant_id == merchant_id, id_in(moves.c.member_id, replaced, session)
            )
        )
    if new_rows:
        connection.execute(insert(moves), new_rows)
    connection.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            funnel_stage=bindparam("b_stage"),
            created_at=bindparam("b_created", type_=table.c.created_at.type),
        ),
        members,
    )


def _utc(value: datetime) -> datetime:
    """Aware UTC (the columns' type returns it so; a guard for values compared with ``now``)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
