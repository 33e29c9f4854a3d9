"""The demo merchant's loyalty programs: a typical tea shop's set-up, made through the services.

Everything here is what a merchant would set in the dashboard on their first day: points, three
tiers, top-up bonus levels, a monthly member day, welcome / birthday / tier-up coupons, a small
points mall and a gift with purchase. All of it takes effect from the start of the demo history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patron.coupons import gifts, mall
from patron.coupons import service as coupons
from patron.coupons.schemas import GiftRuleIn, MallItemIn, TemplateIn
from patron.programs.config import Kind
from patron.programs.rules import put_rule

ACTOR = "demo"

POINTS: dict[str, Any] = {
    "earn_points": 1,
    "per_minor": 100,  # 1 point per ¥1
    "rounding": "floor",
    "pending_days": 7,  # the return window
    "expiry": {"mode": "rolling", "months": 12},
    "expiring_notice_days": 14,
    "welcome_bonus": 100,
    "birthday_bonus": 0,  # birthdays get a coupon instead
    "exclude_categories": [],
    "redemption": {
        "enabled": True,
        "points": 100,  # 100 points = ¥1
        "value_minor": 100,
        "minimum_points": 500,
        "max_share_percent": 20,
    },
}

TIERS: dict[str, Any] = {
    "tiers": [
        {"code": "bronze", "name": "铜卡 Bronze", "threshold": 0},
        {
            "code": "silver",
            "name": "银卡 Silver",
            "threshold": 2_000,
            "discount_percent": "3",
            "points_multiplier": "1.2",
        },
        {
            "code": "gold",
            "name": "金卡 Gold",
            "threshold": 6_000,
            "discount_percent": "8",
            "points_multiplier": "1.5",
            "birthday_gift": True,
            "free_shipping": True,
        },
    ],
    "growth_per": 1,
    "per_minor": 100,  # 1 growth per ¥1 paid for goods
    "evaluation_months": 12,
}

STORED_VALUE: dict[str, Any] = {
    "bonus_levels": [
        {"top_up_minor": 50_000, "bonus_minor": 5_000},
        {"top_up_minor": 100_000, "bonus_minor": 15_000},
    ],
    "spend_order": "principal_first",
    "used_bonus_on_refund": "deduct_from_refund",
}

MEMBER_DAY: dict[str, Any] = {
    "days_of_month": [8],
    "discount_percent": "5",
    "points_multiplier": "2",
    "early_access": "members",
}

REFUND_POLICY: dict[str, Any] = {"spent_points": "debt"}


@dataclass(frozen=True)
class MallOffer:
    item_id: int
    points_price: int
    kind: str


@dataclass(frozen=True)
class DemoPrograms:
    """What the replay needs to know of the set-up."""

    mall: tuple[MallOffer, ...]
    welcome_template_id: int
    birthday_template_id: int


def _templates(session: Session, merchant_id: int) -> dict[str, int]:
    specs = {
        "welcome": TemplateIn(
            name="新会员礼 Welcome ¥20 off",
            description="¥20 off your first order over ¥100, for 30 days.",
            kind="amount_off",
            amount_off_minor=2_000,
            min_spend_minor=10_000,
            valid_days=30,
            per_member_limit=1,
            auto_issue_on=["welcome"],
        ),
        "birthday": TemplateIn(
            name="生日礼 Birthday 15% off",
            description="15% off one order in your birthday month (at most ¥100).",
            kind="percent_off",
            percent_off=15,
            max_discount_minor=10_000,
            valid_days=30,
            auto_issue_on=["birthday"],
        ),
        "gold": TemplateIn(
            name="金卡礼 Gold welcome ¥50 off",
            description="¥50 off an order over ¥300 on reaching Gold.",
            kind="amount_off",
            amount_off_minor=5_000,
            min_spend_minor=30_000,
            valid_days=60,
            auto_issue_on=["tier_up"],
            tier_codes=["gold"],
        ),
        "voucher": TemplateIn(
            name="积分兑换券 ¥30 voucher",
            description="¥30 off an order over ¥200, from the points mall.",
            kind="amount_off",
            amount_off_minor=3_000,
            min_spend_minor=20_000,
            valid_days=60,
        ),
    }
    return {key: coupons.create_template(session, merchant_id, t).id for key, t in specs.items()}


def _mall(session: Session, merchant_id: int, voucher_template: int) -> tuple[MallOffer, ...]:
    items = [
        MallItemIn(kind="gift", name="绿豆糕 Mung bean cake", sku="LDG", points_price=500),
        MallItemIn(
            kind="voucher",
            name="¥30 代金券 ¥30 voucher",
            template_id=voucher_template,
            points_price=1_500,
        ),
        MallItemIn(kind="gift", name="茶巾 Tea cloth", sku="CX", points_price=3_000, stock=400),
        MallItemIn(
            kind="product", name="茉莉花茶 50g Jasmine tea", sku="MLH-50G", points_price=3_500
        ),
        MallItemIn(
            kind="gift", name="白瓷盖碗 Porcelain gaiwan", sku="GW", points_price=7_000, stock=200
        ),
        MallItemIn(
            kind="gift",
            name="品茗杯六只 Tasting cups ×6",
            sku="PMB",
            points_price=8_000,
            stock=150,
            per_member_limit=1,
        ),
        MallItemIn(kind="gift", name="锡茶叶罐 Tin caddy", sku="CG", points_price=11_000, stock=60),
    ]
    made = [mall.create_item(session, merchant_id, i) for i in items]
    return tuple(MallOffer(i.id, i.points_price, i.kind) for i in made)


def setup_programs(session: Session, merchant_id: int, since: datetime) -> DemoPrograms:
    """Create the demo's program settings, coupons, mall and gift rule, in force from ``since``
    (the session's clock should stand at ``since`` too, so the rows are dated then)."""
    for kind, config in (
        (Kind.POINTS, POINTS),
        (Kind.TIERS, TIERS),
        (Kind.STORED_VALUE, STORED_VALUE),
        (Kind.MEMBER_DAY, MEMBER_DAY),
        (Kind.REFUND_POLICY, REFUND_POLICY),
    ):
        put_rule(session, merchant_id, kind, config, ACTOR, effective_from=since)
    templates = _templates(session, merchant_id)
    offers = _mall(session, merchant_id, templates["voucher"])
    gifts.create_rule(
        session,
        merchant_id,
        GiftRuleIn(
            name="满¥500赠绿豆糕 Mung bean cake over ¥500",
            min_spend_minor=50_000,
            gift_sku="LDG",
            gift_name="绿豆糕 Mung bean cake",
        ),
    )
    return DemoPrograms(offers, templates["welcome"], templates["birthday"])
