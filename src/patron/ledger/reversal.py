"""Undoing entries with new entries: take back an earning, reverse any entry, restore spent lots."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import BusinessRuleViolation, Conflict, NotFound
from patron.ledger.journal import EntryInfo, Leg, PostedEntry, post_legs
from patron.ledger.models import (
    AllocationKind,
    Asset,
    JournalEntry,
    LedgerAccount,
    PointsAllocation,
    PointsLot,
    Posting,
)
from patron.ledger.points import (
    POINTS_ISSUED,
    POINTS_PENDING_ISSUED,
    REVERSE_PENDING_LOT,
    REVERSE_RELEASED_LOT,
    Allocation,
    LedgerBusy,
    expire_member_due,
    record_allocations,
    repay_debt,
    take_from_lots,
)

# Moving points between pending and available, or expiring them, is the ledger's own business:
# undoing such an entry would put points where no rule put them.
NOT_REVERSIBLE = frozenset({"points_released", "points_expired"})
_RESTORE_LOT = text("UPDATE points_lots SET remaining = remaining + :n WHERE id = :id")


def _lot_of_entry(session: Session, merchant_id: int, entry_id: int) -> PointsLot | None:
    return session.scalar(
        select(PointsLot).where(
            PointsLot.entry_id == entry_id, PointsLot.merchant_id == merchant_id
        )
    )


def _exceeds() -> BusinessRuleViolation:
    return BusinessRuleViolation(
        "cannot take back more points than were earned", code="reversal_exceeds_earning"
    )


def take_back(
    session: Session,
    merchant_id: int,
    lot: PointsLot,
    points: int,
    info: EntryInfo,
    *,
    allow_debt: bool,
    idempotency_key: str | None,
) -> PostedEntry:
    """Take back ``points`` of an earning: from its own lot first, then from the member's other
    available lots; what is still missing becomes a debt only with ``allow_debt``."""
    now = utcnow(session)
    member_id = lot.member_id
    expire_member_due(session, merchant_id, member_id, now)
    session.refresh(lot)
    if points > lot.amount - lot.reversed:
        raise _exceeds()
    pending = lot.released_at is None
    from_lot = min(points, lot.remaining)
    from_available = points - from_lot if pending else points
    legs: list[Leg] = []
    if pending and from_lot:
        legs += [
            Leg.member(member_id, Asset.POINTS_PENDING, -from_lot),
            Leg.merchant(POINTS_PENDING_ISSUED, Asset.POINTS_PENDING, from_lot),
        ]
    if from_available:
        legs += [
            Leg.member(member_id, Asset.POINTS, -from_available, allow_debt=allow_debt),
            Leg.merchant(POINTS_ISSUED, Asset.POINTS, from_available),
        ]
    posted = post_legs(session, merchant_id, legs, info, idempotency_key)
    guard = REVERSE_PENDING_LOT if pending else REVERSE_RELEASED_LOT
    changed = session.execute(guard, {"id": lot.id, "n": points, "from_lot": from_lot})
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise LedgerBusy("the earning changed while taking it back; try again")
    if from_lot:
        reversed_from_lot = [Allocation(lot.id, from_lot)]
        record_allocations(
            session, merchant_id, posted.id, AllocationKind.REVERSE, reversed_from_lot
        )
    if from_available:
        _take_rest(session, merchant_id, lot, posted, from_available, from_lot, pending, now)
    return posted


def _take_rest(
    session: Session,
    merchant_id: int,
    lot: PointsLot,
    posted: PostedEntry,
    from_available: int,
    from_lot: int,
    pending: bool,
    now: datetime,
) -> None:
    need = from_available if pending else from_available - from_lot
    got = take_from_lots(
        session, merchant_id, lot.member_id, posted.id, need, AllocationKind.REVERSE, now, lot.id
    )
    after = posted.balance_of(lot.member_id, Asset.POINTS.value) or 0
    before = after + from_available
    debt_created = max(0, -after) - max(0, -before)
    if need - got != debt_created:  # lots and balance disagree: refuse rather than guess
        raise LedgerBusy("points changed while taking them back; try again")


def _lock_entry(session: Session, merchant_id: int, entry_id: int) -> JournalEntry:
    # Row lock on the original, so two reversals of one entry queue instead of both passing.
    entry = session.scalar(
        select(JournalEntry)
        .where(JournalEntry.id == entry_id, JournalEntry.merchant_id == merchant_id)
        .with_for_update()
    )
    if entry is None:
        raise NotFound("no such ledger entry", code="entry_not_found")
    return entry


def _refuse_many_parts(session: Session, entry_id: int) -> None:
    """An entry that moves a member's points together with other member balances is a whole
    purchase (ADR 0373): reversing its postings one by one would take back the earning but not
    give back the points spent, or give back twice what a refund then gives back. Refunds
    reverse such entries, in proportion, through the order's refund."""
    member_postings = session.execute(
        select(LedgerAccount.asset, LedgerAccount.member_id)
        .join(Posting, Posting.account_id == LedgerAccount.id)
        .where(Posting.entry_id == entry_id, LedgerAccount.member_id.is_not(None))
    ).all()
    points = {Asset.POINTS.value, Asset.POINTS_PENDING.value}
    one_member = len({r.member_id for r in member_postings}) == 1
    if one_member and len(member_postings) > 1 and any(r.asset in points for r in member_postings):
        raise BusinessRuleViolation(
            "this entry is a whole purchase: refund the order instead of reversing the entry",
            code="entry_is_a_purchase",
        )


def reverse(
    session: Session,
    merchant_id: int,
    entry_id: int,
    info: EntryInfo,
    *,
    allow_debt: bool,
    idempotency_key: str | None,
) -> PostedEntry:
    """A new entry with the opposite legs, linked by ``reverses_entry_id``."""
    original = _lock_entry(session, merchant_id, entry_id)
    if original.reason_code in NOT_REVERSIBLE or original.reverses_entry_id is not None:
        raise BusinessRuleViolation("this entry cannot be reversed", code="entry_not_reversible")
    _refuse_many_parts(session, entry_id)
    info = replace(info, reverses_entry_id=entry_id)
    lot = _lot_of_entry(session, merchant_id, entry_id)
    if lot is not None:
        left = lot.amount - lot.reversed
        if left == 0:
            raise Conflict("this earning was already taken back", code="already_reversed")
        return take_back(
            session,
            merchant_id,
            lot,
            left,
            info,
            allow_debt=allow_debt,
            idempotency_key=idempotency_key,
        )
    already = session.scalar(select(exists().where(JournalEntry.reverses_entry_id == entry_id)))
    if already:
        raise Conflict("this entry was already reversed", code="already_reversed")
    rows = session.execute(
        select(Posting.amount, Posting.asset, LedgerAccount.member_id, LedgerAccount.code)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(Posting.entry_id == entry_id)
        .order_by(Posting.id)
    ).all()
    legs = [
        Leg(
            Asset(r.asset),
            -r.amount,
            r.member_id,
            None if r.member_id else r.code,
            allow_debt=allow_debt and r.member_id is not None,
        )
        for r in rows
    ]
    posted = post_legs(session, merchant_id, legs, info, idempotency_key)
    _restore_spent_lots(session, merchant_id, entry_id, posted)
    return posted


def _restore_spent_lots(
    session: Session, merchant_id: int, entry_id: int, posted: PostedEntry
) -> None:
    """Points a reversed spend gives back return to the lots they came from (keeping their
    expiry: a lot already past its date expires at the next run)."""
    spent = session.execute(
        select(PointsAllocation.lot_id, PointsAllocation.amount, PointsLot.member_id)
        .join(PointsLot, PointsLot.id == PointsAllocation.lot_id)
        .where(
            PointsAllocation.entry_id == entry_id,
            PointsAllocation.kind == AllocationKind.SPEND.value,
        )
        .order_by(PointsAllocation.id)
    ).all()
    if not spent:
        return
    session.execute(_RESTORE_LOT, [{"id": s.lot_id, "n": s.amount} for s in spent])
    record_allocations(
        session,
        merchant_id,
        posted.id,
        AllocationKind.RESTORE,
        [Allocation(s.lot_id, -s.amount) for s in spent],
    )
    by_member: dict[int, list[Allocation]] = {}
    for s in spent:
        by_member.setdefault(s.member_id, []).append(Allocation(s.lot_id, s.amount))
    for member_id, gained in by_member.items():
        after = posted.balance_of(member_id, Asset.POINTS.value) or 0
        before = after - sum(g.amount for g in gained)
        repay_debt(session, merchant_id, posted.id, before, gained)
