"""A typical program for tests: 1 point per 1.00, three tiers, top-up bonus levels, member day."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.ledger import queries
from patron.members.schemas import MemberCreate
from patron.members.service import create_member
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from patron.programs.config import Kind
from patron.programs.rules import put_rule

POINTS: dict[str, Any] = {
    "earn_points": 1,
    "per_minor": 100,
    "rounding": "floor",
    "pending_days": 7,
    "expiry": {"mode": "rolling", "months": 12},
    "redemption": {
        "points": 100,
        "value_minor": 100,
        "minimum_points": 100,
        "max_share_percent": 50,
    },
}
TIERS: dict[str, Any] = {
    "tiers": [
        {"code": "silver", "name": "Silver", "threshold": 0},
        {
            "code": "gold",
            "name": "Gold",
            "threshold": 1000,
            "discount_percent": "5",
            "points_multiplier": "1.5",
        },
        {
            "code": "black",
            "name": "Black",
            "threshold": 5000,
            "discount_percent": "10",
            "points_multiplier": "2",
        },
    ],
    "growth_per": 1,
    "per_minor": 100,
    "evaluation_months": 12,
}
STORED: dict[str, Any] = {
    "bonus_levels": [
        {"top_up_minor": 10000, "bonus_minor": 2000},
        {"top_up_minor": 50000, "bonus_minor": 15000},
    ],
    "spend_order": "principal_first",
}
# The 10th of each month and Sundays (2026-03-10 is a Tuesday).
MEMBER_DAY: dict[str, Any] = {
    "days_of_month": [10],
    "weekdays": [6],
    "discount_percent": "5",
    "points_multiplier": "2",
}


def set_rules(sessions: sessionmaker[Session], merchant_id: int, **kinds: dict[str, Any]) -> None:
    with transaction(sessions) as s:
        for kind, config in kinds.items():
            put_rule(s, merchant_id, Kind(kind), config, actor="test")


def typical_program(sessions: sessionmaker[Session], merchant_id: int, **over: Any) -> None:
    rules: dict[str, dict[str, Any]] = {"points": POINTS, "tiers": TIERS, "stored_value": STORED}
    rules.update(over)
    set_rules(sessions, merchant_id, **{k: v for k, v in rules.items() if v is not None})


def new_member(
    sessions: sessionmaker[Session],
    merchant_id: int,
    phone: str = "+8613800000001",
    birthday: date | None = None,
) -> int:
    with transaction(sessions) as s:
        return create_member(
            s,
            merchant_id,
            MemberCreate(
                first_name="Li", last_name="Wei", phone=phone, birthday=birthday, registered=True
            ),
        ).id


def add_products(sessions: sessionmaker[Session], merchant_id: int) -> None:
    with transaction(sessions) as s:
        for sku, name, cat, price in [
            ("TEA-1", "Green tea", "tea", 12800),
            ("CUP-1", "Tea cup", "ware", 4500),
            ("GIFT-CARD", "Gift card", "cards", 10000),
        ]:
            create_product(
                s, merchant_id, ProductCreate(sku=sku, name=name, category=cat, price_minor=price)
            )


def balances(sessions: sessionmaker[Session], merchant_id: int, member_id: int) -> dict[str, int]:
    with transaction(sessions) as s:
        return queries.member_balances(s, merchant_id, member_id).balances
