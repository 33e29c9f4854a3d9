"""What the pages show of a member's loyalty: balances, tier progress, lots, statement, coupons.

Shared by the dashboard's member page and the member portal. Everything is read through the
ledger, programs and coupons services; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.coupons import service as coupons
from patron.coupons.models import CodeStatus
from patron.ledger import queries
from patron.ledger.models import Asset, PointsLot
from patron.programs import rules, tiers
from patron.programs.config import Tier

# How far ahead "expiring soon" looks when the points setting does not say.
EXPIRING_SOON_DAYS = 30


@dataclass(frozen=True)
class Balances:
    """A member's balances as the pages show them (money in minor units)."""

    points: int  # spendable now
    pending: int  # earned, inside the return window
    past_expiry: int
    growth: int
    principal: int
    bonus: int

    @property
    def stored_value(self) -> int:
        return self.principal + self.bonus


def balances(session: Session, merchant_id: int, member_id: int) -> Balances:
    found = queries.member_balances(session, merchant_id, member_id)
    b = found.balances
    return Balances(
        points=found.points_spendable,
        pending=found.points_pending,
        past_expiry=found.points_past_expiry,
        growth=b[Asset.GROWTH.value],
        principal=b[Asset.STORED_PRINCIPAL.value],
        bonus=b[Asset.STORED_BONUS.value],
    )


@dataclass(frozen=True)
class TierProgress:
    """The member's tier and how far the next one is (None when no tiers are set up)."""

    current: Tier
    next: Tier | None
    growth: int  # growth earned in the window
    to_next: int | None
    percent: int  # toward the next tier, in 5% steps (the CSS has a class per step)
    window_months: int


def tier_progress(session: Session, merchant_id: int, member_id: int) -> TierProgress | None:
    rule = rules.tiers_rule(session, merchant_id, utcnow(session))
    if rule is None:
        return None
    cfg = rule.config
    row = tiers.member_tier(session, merchant_id, member_id)
    growth = tiers.window_growth(session, rule, merchant_id, member_id)
    current = tiers.tier_of(cfg, row.tier_code if row else None)
    higher = [t for t in cfg.tiers if t.threshold > current.threshold]
    nxt = higher[0] if higher else None
    if nxt is None:
        return TierProgress(current, None, growth, None, 100, cfg.window_months)
    span = nxt.threshold - current.threshold
    done = min(max(growth - current.threshold, 0), span)
    percent = int(done * 20 // span) * 5
    return TierProgress(
        current, nxt, growth, max(0, nxt.threshold - growth), percent, cfg.window_months
    )


def open_lots(
    session: Session, merchant_id: int, member_id: int, limit: int = 10
) -> list[PointsLot]:
    """Lots with points left, the soonest to expire first (the order they are spent in)."""
    queries.check_member(session, merchant_id, member_id)
    never_last = PointsLot.expires_at.is_(None)
    return list(
        session.scalars(
            select(PointsLot)
            .where(
                PointsLot.merchant_id == merchant_id,
                PointsLot.member_id == member_id,
                PointsLot.remaining > 0,
            )
            .order_by(never_last, PointsLot.expires_at, PointsLot.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Expiring:
    points: int
    first_at: Any  # datetime of the soonest expiry, or None
    days: int


def expiring_soon(session: Session, merchant_id: int, member_id: int) -> Expiring:
    """Spendable points whose lots expire within the merchant's notice period."""
    now = utcnow(session)
    rule = rules.points_rule(session, merchant_id, now)
    days = rule.config.expiring_notice_days if rule and rule.config.expiring_notice_days else 0
    days = days or EXPIRING_SOON_DAYS
    points, first = session.execute(
        select(
            func.coalesce(func.sum(PointsLot.remaining), 0), func.min(PointsLot.expires_at)
        ).where(
            PointsLot.merchant_id == merchant_id,
            PointsLot.member_id == member_id,
            PointsLot.remaining > 0,
            PointsLot.released_at.is_not(None),
            PointsLot.expires_at > now,
            PointsLot.expires_at <= now + timedelta(days=days),
        )
    ).one()
    return Expiring(int(points), first, days)


def statement(
    session: Session, merchant_id: int, member_id: int, limit: int, cursor: int | None
) -> tuple[list[queries.StatementLine], int | None]:
    return queries.statement(session, merchant_id, member_id, limit=limit, before=cursor)


def wallet(session: Session, merchant_id: int, member_id: int, limit: int = 50) -> list[Any]:
    """The member's coupons: usable ones first (soonest to expire first), then the rest."""
    found = coupons.member_coupons(session, merchant_id, member_id)
    usable = [(c, t) for c, t in found if c.status == CodeStatus.ISSUED.value]
    usable.sort(key=lambda ct: (ct[0].expires_at is None, ct[0].expires_at or ct[0].issued_at))
    others = [(c, t) for c, t in found if c.status != CodeStatus.ISSUED.value]
    return (usable + others)[:limit]


def progress_class(percent: int) -> str:
    return f"w-{max(0, min(100, percent))}"
