"""Points kept in lots: earn (maybe pending), spend earliest-expiring first, expire.

Locking rule (why no two tills deadlock and no lot is double-spent): a lot is only changed by a
transaction that already holds the owner's points account row (``points`` for released lots,
``points_pending`` for pending ones), taken by the balance update of the entry it posts. Accounts
are locked first (in primary-key order), lots after them. Where a lot was read before the lock, a
conditional update checks it is unchanged and, if not, the operation stops with ``ledger_busy``
(retry) instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import UTCDateTime
from patron.core.errors import Conflict, InvalidInput
from patron.core.events import emit, register_event_types
from patron.ledger.journal import EntryInfo, Leg, PostedEntry, post_legs
from patron.ledger.models import ALLOCATIONS, LOTS, AllocationKind, Asset
from patron.ledger.words import Words

POINTS_ISSUED = "points_issued"
POINTS_PENDING_ISSUED = "points_pending_issued"
POINTS_REDEEMED = "points_redeemed"
POINTS_EXPIRED = "points_expired"
SYSTEM_ACTOR = "system"

register_event_types(
    "points.earned",
    "points.spent",
    "points.expired",
    "points.expiring_soon",
    "balance.adjusted",
)

_TAKE_FROM_LOT = text("UPDATE points_lots SET remaining = remaining - :n WHERE id = :id")
# A new points lot (an earning), its id returned.
INSERT_LOT = (
    text(
        "INSERT INTO points_lots (merchant_id, member_id, entry_id, amount, remaining, reversed, "
        "earned_at, available_at, released_at, expires_at) VALUES (:merchant_id, :member_id, "
        ":entry_id, :amount, :remaining, :reversed, :earned_at, :available_at, :released_at, "
        ":expires_at) RETURNING id"
    )
    .bindparams(
        *(bindparam(n, type_=UTCDateTime()) for n in ("earned_at", "available_at", "released_at"))
    )
    .bindparams(bindparam("expires_at", type_=UTCDateTime()))
)
# Spendable lots, earliest expiry first (never-expiring last), then oldest.
_SPENDABLE_LOTS = text(
    "SELECT id, remaining FROM points_lots WHERE merchant_id = :m AND member_id = :mem "
    "AND released_at IS NOT NULL AND remaining > 0 AND (expires_at IS NULL OR expires_at > :now) "
    "AND id <> :exclude ORDER BY expires_at IS NULL, expires_at, earned_at, id"
).bindparams(bindparam("now", type_=UTCDateTime()))
# Take earned points back from a lot (released / still pending), never more than it earned
# nor more than it holds: 0 rows means the lot changed meanwhile.
REVERSE_RELEASED_LOT = text(
    "UPDATE points_lots SET reversed = reversed + :n, remaining = remaining - :from_lot "
    "WHERE id = :id AND reversed + :n <= amount AND remaining >= :from_lot "
    "AND released_at IS NOT NULL"
)
REVERSE_PENDING_LOT = text(
    "UPDATE points_lots SET reversed = reversed + :n, remaining = remaining - :from_lot "
    "WHERE id = :id AND reversed + :n <= amount AND remaining >= :from_lot "
    "AND released_at IS NULL"
)


_L = LOTS.c
_MEMBER_DUE_LOTS = (
    select(_L.id, _L.merchant_id, _L.member_id, _L.remaining, _L.earned_at)
    .where(
        _L.merchant_id == bindparam("m"),
        _L.member_id == bindparam("mem"),
        _L.released_at.is_not(None),
        _L.remaining > 0,
        _L.expires_at <= bindparam("now", type_=UTCDateTime()),
    )
    .order_by(_L.expires_at, _L.id)
    .limit(bindparam("n"))
)


class LedgerBusy(Conflict):
    """A lot changed between reading it and locking its account; the caller may retry."""

    code = "ledger_busy"


@dataclass(frozen=True)
class Allocation:
    lot_id: int
    amount: int


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def record_allocations(
    session: Session,
    merchant_id: int,
    entry_id: int,
    kind: AllocationKind,
    allocs: list[Allocation],
) -> None:
    """Record which lots an entry took points from (or gave them back to), one multi-row
    INSERT, so a refund can give spent points back to the lots they came from."""
    if not allocs:
        return
    session.connection().execute(
        ALLOCATIONS.insert(),
        [
            {
                "merchant_id": merchant_id,
                "entry_id": entry_id,
                "lot_id": a.lot_id,
                "kind": kind.value,
                "amount": a.amount,
            }
            for a in allocs
        ],
    )


def take_from_lots(
    session: Session,
    merchant_id: int,
    member_id: int,
    entry_id: int,
    need: int,
    kind: AllocationKind,
    now: datetime,
    exclude_lot_id: int | None = None,
) -> int:
    """Take up to ``need`` points from the member's spendable lots, earliest expiry first (then
    oldest); record the allocations. Returns how many points the lots gave."""
    allocs = take_lots(session, merchant_id, member_id, need, now, exclude_lot_id)
    record_allocations(session, merchant_id, entry_id, kind, allocs)
    return sum(a.amount for a in allocs)


def take_lots(
    session: Session,
    merchant_id: int,
    member_id: int,
    need: int,
    now: datetime,
    exclude_lot_id: int | None = None,
) -> list[Allocation]:
    """Lower the member's spendable lots by up to ``need`` points, earliest expiry first (then
    oldest), and say which gave what (the caller records the allocations once it has an entry).
    The caller holds the member's points account row."""
    params = {"m": merchant_id, "mem": member_id, "now": now, "exclude": exclude_lot_id or 0}
    allocs: list[Allocation] = []
    left = need
    conn = session.connection()
    for lot_id, remaining in conn.execute(_SPENDABLE_LOTS, params):
        if left == 0:
            break
        take = min(left, remaining)
        allocs.append(Allocation(lot_id, take))
        left -= take
    if allocs:
        conn.execute(_TAKE_FROM_LOT, [{"id": a.lot_id, "n": a.amount} for a in allocs])
    return allocs


def repay_debt(
    session: Session,
    merchant_id: int,
    entry_id: int,
    balance_before: int,
    gained: list[Allocation],
) -> None:
    """Points arriving while the member owes points (a permitted negative balance) pay the debt
    first: the lots that gained keep only what is left, so lots always sum to the balance."""
    repaid = take_for_debt(session.connection(), balance_before, gained)
    record_allocations(session, merchant_id, entry_id, AllocationKind.DEBT, repaid)


def take_for_debt(conn: Any, balance_before: int, gained: list[Allocation]) -> list[Allocation]:
    """Take from the lots that ``gained`` what pays back a negative ``balance_before``, oldest
    gain first; returns what each lot paid (the DEBT allocations to record)."""
    owed = -balance_before
    repaid: list[Allocation] = []
    for gain in gained:
        if owed <= 0:
            break
        take = min(owed, gain.amount)
        repaid.append(Allocation(gain.lot_id, take))
        owed -= take
    if repaid:
        conn.execute(_TAKE_FROM_LOT, [{"id": a.lot_id, "n": a.amount} for a in repaid])
    return repaid


def _check_points(points: int) -> None:
    if type(points) is not int or points <= 0:
        raise InvalidInput("points must be a positive whole number", code="invalid_points")


def earn(
    session: Session,
    merchant_id: int,
    member_id: int,
    points: int,
    info: EntryInfo,
    *,
    available_at: datetime | None,
    expires_at: datetime | None,
    idempotency_key: str | None,
) -> PostedEntry:
    """Post an earning and open its lot (pending until ``available_at`` if that is later)."""
    _check_points(points)
    now = utcnow(session)
    if expires_at is not None and expires_at <= max(now, available_at or now):
        raise InvalidInput("points must expire after they become available", code="invalid_expiry")
    pending = available_at is not None and available_at > now
    asset = Asset.POINTS_PENDING if pending else Asset.POINTS
    counter = POINTS_PENDING_ISSUED if pending else POINTS_ISSUED
    legs = [Leg.member(member_id, asset, points), Leg.merchant(counter, asset, -points)]
    posted = post_legs(session, merchant_id, legs, info, idempotency_key)
    lot_id = (
        session.connection()
        .execute(
            INSERT_LOT,
            {
                "merchant_id": merchant_id,
                "member_id": member_id,
                "entry_id": posted.id,
                "amount": points,
                "remaining": points,
                "reversed": 0,
                "earned_at": now,
                "available_at": available_at if pending else now,
                "released_at": None if pending else now,
                "expires_at": expires_at,
            },
        )
        .scalar_one()
    )
    if not pending:
        before = (posted.balance_of(member_id, Asset.POINTS.value) or 0) - points
        repay_debt(session, merchant_id, posted.id, before, [Allocation(lot_id, points)])
    emit(
        session,
        merchant_id,
        "points.earned",
        {
            "member_id": member_id,
            "entry_id": posted.id,
            "lot_id": lot_id,
            "points": points,
            "pending": pending,
            "available_at": _iso(available_at if pending else now),
            "expires_at": _iso(expires_at),
            "reason_code": info.reason_code,
        },
        subject_id=member_id,
    )
    return posted


def spend(
    session: Session,
    merchant_id: int,
    member_id: int,
    points: int,
    info: EntryInfo,
    *,
    idempotency_key: str | None,
) -> PostedEntry:
    """Take ``points`` from the member's available lots, earliest expiring first."""
    _check_points(points)
    now = utcnow(session)
    expire_member_due(session, merchant_id, member_id, now)
    legs = [
        Leg.member(member_id, Asset.POINTS, -points),
        Leg.merchant(POINTS_REDEEMED, Asset.POINTS, points),
    ]
    posted = post_legs(session, merchant_id, legs, info, idempotency_key)
    got = take_from_lots(
        session, merchant_id, member_id, posted.id, points, AllocationKind.SPEND, now
    )
    if got != points:  # the lots disagree with the balance: never spend points with no lot
        raise LedgerBusy("points changed while spending; try again")
    emit(
        session,
        merchant_id,
        "points.spent",
        {
            "member_id": member_id,
            "entry_id": posted.id,
            "points": points,
            "balance": posted.balance_of(member_id, Asset.POINTS.value),
            "reason_code": info.reason_code,
        },
        subject_id=member_id,
    )
    return posted


def _due_lots(
    session: Session, now: datetime, merchant_id: int | None, member_id: int | None, limit: int
) -> list[Any]:
    lot = LOTS.c
    if merchant_id is not None and member_id is not None:  # before every spend: built once
        params = {"m": merchant_id, "mem": member_id, "now": now, "n": limit}
        return list(session.connection().execute(_MEMBER_DUE_LOTS, params))
    query = select(lot.id, lot.merchant_id, lot.member_id, lot.remaining, lot.earned_at).where(
        lot.released_at.is_not(None), lot.remaining > 0, lot.expires_at <= now
    )
    if merchant_id is not None:
        query = query.where(lot.merchant_id == merchant_id)
    if member_id is not None:
        query = query.where(lot.member_id == member_id)
    return list(session.connection().execute(query.order_by(lot.expires_at, lot.id).limit(limit)))


def _expire_lot(session: Session, lot: Any, now: datetime) -> None:
    earned = lot.earned_at.date().isoformat()
    info = EntryInfo.worded(
        "points_expired",
        Words("points_expired", {"points": lot.remaining, "earned_on": earned}),
        SYSTEM_ACTOR,
        object_type="points_lot",
        object_id=str(lot.id),
    )
    legs = [
        Leg.member(lot.member_id, Asset.POINTS, -lot.remaining),
        Leg.merchant(POINTS_EXPIRED, Asset.POINTS, lot.remaining),
    ]
    posted = post_legs(session, lot.merchant_id, legs, info)
    changed = session.execute(
        text("UPDATE points_lots SET remaining = 0 WHERE id = :id AND remaining = :n"),
        {"id": lot.id, "n": lot.remaining},
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise LedgerBusy("the lot changed before it could expire")
    record_allocations(
        session,
        lot.merchant_id,
        posted.id,
        AllocationKind.EXPIRE,
        [Allocation(lot.id, lot.remaining)],
    )
    emit(
        session,
        lot.merchant_id,
        "points.expired",
        {
            "member_id": lot.member_id,
            "entry_id": posted.id,
            "lot_id": lot.id,
            "points": lot.remaining,
        },
        subject_id=lot.member_id,
    )


def _expire_each(session: Session, lots: list[Any], now: datetime) -> int:
    done = 0
    for lot in lots:
        try:
            with session.begin_nested():
                _expire_lot(session, lot, now)
            done += 1
        except LedgerBusy:
            continue  # a spend or refund got there first; the next run sees the new state
    return done


def expire_member_due(session: Session, merchant_id: int, member_id: int, now: datetime) -> int:
    """Expire this member's lots that are past their date (before spending or taking back)."""
    return _expire_each(session, _due_lots(session, now, merchant_id, member_id, 10_000), now)


def expire_due(
    session: Session, merchant_id: int | None, now: datetime | None = None, limit: int = 500
) -> int:
    """Expire up to ``limit`` lots past their date (one entry per lot); returns how many."""
    now = now or utcnow(session)
    return _expire_each(session, _due_lots(session, now, merchant_id, None, limit), now)
