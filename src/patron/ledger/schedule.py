"""Points on a timetable: pending points become spendable, members hear before points expire."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.events import emit
from patron.ledger.journal import EntryInfo, Leg, post_legs
from patron.ledger.models import Asset, PointsLot
from patron.ledger.points import (
    POINTS_ISSUED,
    POINTS_PENDING_ISSUED,
    SYSTEM_ACTOR,
    Allocation,
    LedgerBusy,
    repay_debt,
)
from patron.ledger.words import Words

DEFAULT_EXPIRING_SOON_DAYS = 7
_LOTS: Table = PointsLot.__table__  # type: ignore[assignment]


def _release_lot(session: Session, lot: Any, now: datetime) -> None:
    if lot.remaining > 0:
        n = lot.remaining
        legs = [
            Leg.member(lot.member_id, Asset.POINTS_PENDING, -n),
            Leg.merchant(POINTS_PENDING_ISSUED, Asset.POINTS_PENDING, n),
            Leg.member(lot.member_id, Asset.POINTS, n),
            Leg.merchant(POINTS_ISSUED, Asset.POINTS, -n),
        ]
        info = EntryInfo.worded(
            "points_released",
            Words("points_released", {"points": n}),
            SYSTEM_ACTOR,
            object_type="points_lot",
            object_id=str(lot.id),
        )
        posted = post_legs(session, lot.merchant_id, legs, info)
    changed = session.execute(
        update(_LOTS)
        .where(_LOTS.c.id == lot.id, _LOTS.c.released_at.is_(None))
        .where(_LOTS.c.remaining == lot.remaining)
        .values(released_at=now)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise LedgerBusy("the lot changed before it could be released")
    if lot.remaining > 0:
        before = (posted.balance_of(lot.member_id, Asset.POINTS.value) or 0) - lot.remaining
        repay_debt(session, lot.merchant_id, posted.id, before, [Allocation(lot.id, lot.remaining)])


def release_pending_points(
    session: Session, merchant_id: int | None = None, now: datetime | None = None, limit: int = 500
) -> int:
    """Make spendable the pending lots whose return window has ended; returns how many lots."""
    now = now or utcnow(session)
    query = select(
        PointsLot.id, PointsLot.merchant_id, PointsLot.member_id, PointsLot.remaining
    ).where(PointsLot.released_at.is_(None), PointsLot.available_at <= now)
    if merchant_id is not None:
        query = query.where(PointsLot.merchant_id == merchant_id)
    lots = list(session.execute(query.order_by(PointsLot.available_at, PointsLot.id).limit(limit)))
    done = 0
    for lot in lots:
        try:
            with session.begin_nested():
                _release_lot(session, lot, now)
            done += 1
        except LedgerBusy:
            continue  # a refund touched the lot meanwhile; the next run sees the new state
    return done


# Programs register a function returning each merchant's own lead time (merchant id -> days);
# the ledger knows nothing of programs, so the setting reaches it through this hook.
NOTICE_DAYS_PROVIDERS: list[Callable[[Session, datetime], Mapping[int, int]]] = []


def notice_days(session: Session, now: datetime) -> dict[int, int]:
    """Every merchant's own expiring-soon lead time, from the registered providers."""
    found: dict[int, int] = {}
    for provider in NOTICE_DAYS_PROVIDERS:
        found.update(provider(session, now))
    return found


def announce_expiring_points(
    session: Session,
    merchant_id: int | None = None,
    days: int = DEFAULT_EXPIRING_SOON_DAYS,
    now: datetime | None = None,
    limit: int = 500,
    days_by_merchant: Mapping[int, int] | None = None,
) -> int:
    """Emit ``points.expiring_soon`` once per lot that expires within ``days`` (or within its
    merchant's own lead time in ``days_by_merchant``); returns how many."""
    now = now or utcnow(session)
    own = dict(days_by_merchant or {})
    window = or_(
        *(
            and_(PointsLot.merchant_id == m, PointsLot.expires_at <= now + timedelta(days=d))
            for m, d in own.items()
        ),
        and_(
            PointsLot.merchant_id.not_in(list(own)),
            PointsLot.expires_at <= now + timedelta(days=days),
        ),
    )
    query = select(PointsLot.id).where(
        PointsLot.released_at.is_not(None),
        PointsLot.remaining > 0,
        PointsLot.expiring_notified_at.is_(None),
        PointsLot.expires_at > now,
        window,
    )
    if merchant_id is not None:
        query = query.where(PointsLot.merchant_id == merchant_id)
    ids = list(session.scalars(query.order_by(PointsLot.expires_at, PointsLot.id).limit(limit)))
    done = 0
    for lot_id in ids:
        # The conditional update makes "once per lot" hold even with two workers.
        row = session.execute(
            update(_LOTS)
            .where(_LOTS.c.id == lot_id, _LOTS.c.expiring_notified_at.is_(None))
            .values(expiring_notified_at=now)
            .returning(
                _LOTS.c.merchant_id, _LOTS.c.member_id, _LOTS.c.remaining, _LOTS.c.expires_at
            )
        ).one_or_none()
        if row is None:
            continue
        expires_at: datetime | None = row.expires_at
        emit(
            session,
            row.merchant_id,
            "points.expiring_soon",
            {
                "member_id": row.member_id,
                "lot_id": lot_id,
                "points": row.remaining,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
            subject_id=row.member_id,
        )
        done += 1
    return done
