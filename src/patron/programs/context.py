"""What the programs say about one member at one moment: rules in force, tier, member day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.merchant_cache import MERCHANT_CACHE, merchant_version
from patron.programs.calendar import merchant_zone
from patron.programs.config import (
    MemberDayConfig,
    PointsConfig,
    RefundPolicyConfig,
    StoredValueConfig,
    Tier,
    TiersConfig,
)
from patron.programs.earning import EarnContext
from patron.programs.models import OrderPayment
from patron.programs.rules import (
    RuleInForce,
    member_day_rule,
    points_rule,
    refund_policy,
    stored_value_rule,
    tiers_rule,
)
from patron.programs.tiers import member_tier, tier_of


@dataclass(frozen=True)
class Programs:
    """Every rule in force at ``at`` for one merchant."""

    at: datetime
    zone: ZoneInfo
    points: RuleInForce[PointsConfig] | None
    tiers: RuleInForce[TiersConfig] | None
    member_day: RuleInForce[MemberDayConfig] | None
    stored_value: RuleInForce[StoredValueConfig]
    refund_policy: RuleInForce[RefundPolicyConfig]

    @property
    def local_date(self) -> date:
        return self.at.astimezone(self.zone).date()

    @property
    def is_member_day(self) -> bool:
        return self.member_day is not None and self.member_day.config.is_member_day(self.local_date)

    def versions(self) -> dict[str, int]:
        rules = (self.points, self.tiers, self.member_day, self.stored_value, self.refund_policy)
        return {r.kind.value: r.version for r in rules if r is not None}


def load_programs(session: Session, merchant_id: int, at: datetime) -> Programs:
    """The rules in force at ``at``: from the merchant cache while its set-up version holds."""
    version = merchant_version(session, merchant_id)
    zone = MERCHANT_CACHE.part(
        merchant_id, version, "zone", lambda: merchant_zone(session, merchant_id)
    )
    return Programs(
        at=at,
        zone=zone,
        points=points_rule(session, merchant_id, at),
        tiers=tiers_rule(session, merchant_id, at),
        member_day=member_day_rule(session, merchant_id, at),
        stored_value=stored_value_rule(session, merchant_id, at),
        refund_policy=refund_policy(session, merchant_id, at),
    )


def current_tier(
    session: Session, programs: Programs, merchant_id: int, member_id: int
) -> Tier | None:
    if programs.tiers is None:
        return None
    row = member_tier(session, merchant_id, member_id)
    return tier_of(programs.tiers.config, row.tier_code if row else None)


def earned_on(session: Session, merchant_id: int, member_id: int, day: date) -> int:
    """Points already earned from purchases on this local day (for the daily cap)."""
    total = session.scalar(
        select(func.coalesce(func.sum(OrderPayment.points_earned), 0)).where(
            OrderPayment.merchant_id == merchant_id,
            OrderPayment.member_id == member_id,
            OrderPayment.local_date == day,
        )
    )
    return int(total or 0)


def earn_context(
    session: Session,
    programs: Programs,
    merchant_id: int,
    member_id: int,
    tier: Tier | None,
    store_code: str | None,
    cash_share: Fraction,
) -> EarnContext:
    md = programs.member_day
    md_factor = (
        Fraction(md.config.points_multiplier) if md and programs.is_member_day else Fraction(1)
    )
    capped = programs.points is not None and programs.points.config.cap_per_day is not None
    return EarnContext(
        tier_code=tier.code if tier else None,
        tier_multiplier=Fraction(tier.points_multiplier) if tier else Fraction(1),
        store_code=store_code,
        local_date=programs.local_date,
        member_day_multiplier=md_factor,
        cash_share=cash_share,
        earned_today=earned_on(session, merchant_id, member_id, programs.local_date)
        if capped
        else 0,
    )
