"""Exact earning values: rounding, multipliers stacking, caps, minimum order, exclusions."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from patron.programs.config import PointsConfig, StoredValueConfig
from patron.programs.earning import EarnContext, EarnLine, earn_points
from patron.programs.stored_value import StoredBalance, split_spend


def ctx(**over: object) -> EarnContext:
    base: dict[str, object] = {
        "tier_code": "gold",
        "tier_multiplier": Fraction(1),
        "store_code": "S1",
        "local_date": date(2026, 3, 10),
        "member_day_multiplier": Fraction(1),
        "cash_share": Fraction(1),
        "earned_today": 0,
    }
    base.update(over)
    return EarnContext(**base)  # type: ignore[arg-type]


LINES = [
    EarnLine(1, "TEA-1", "tea", 12850, 12850),
    EarnLine(2, "CUP-1", "ware", 4550, 4000),
    EarnLine(3, "CIG-1", "tobacco", 3000, 3000),
]


def test_rounding_floor_and_half_up() -> None:
    floor = earn_points(PointsConfig(), LINES[:2], ctx())
    assert (floor.points, floor.line_points) == (168, {1: 128, 2: 40})  # 168.50 → 168
    half = earn_points(PointsConfig(rounding="half_up"), LINES[:2], ctx())
    assert (half.points, half.line_points) == (169, {1: 129, 2: 40})


def test_multipliers_stack_and_product_replaces_category() -> None:
    cfg = PointsConfig(
        multipliers=[
            {"applies_to": "category", "value": "tea", "factor": "2"},
            {"applies_to": "product", "value": "TEA-1", "factor": "3"},
            {"applies_to": "store", "value": "S1", "factor": "1.5"},
            {
                "applies_to": "dates",
                "starts_on": "2026-03-01",
                "ends_on": "2026-03-10",
                "factor": "2",
            },
            {"applies_to": "tier", "value": "black", "factor": "10"},
        ]
    )
    got = earn_points(
        cfg, LINES[:2], ctx(tier_multiplier=Fraction(3, 2), member_day_multiplier=Fraction(2))
    )
    # TEA: 128.5 × 1.5 (tier) × 2 (member day) × 1.5 (store) × 2 (dates) × 3 (product) = 3469.5
    # CUP: 40 × 1.5 × 2 × 1.5 × 2 = 360 → 3829.5 → 3829
    assert (got.points, got.line_points) == (3829, {1: 3469, 2: 360})
    outside = earn_points(cfg, LINES[:2], ctx(local_date=date(2026, 3, 11)))
    # no member day, tier ×1, no dates: TEA 128.5 × 1.5 × 3 = 578.25, CUP 40 × 1.5 = 60
    assert (outside.points, outside.line_points) == (638, {1: 578, 2: 60})


def test_caps_minimum_and_exclusions() -> None:
    cfg = PointsConfig(exclude_categories=["tobacco"], cap_per_order=100, cap_per_day=150)
    got = earn_points(cfg, LINES, ctx())
    assert (got.points, got.line_points) == (100, {1: 76, 2: 24})
    assert got.notes == ["line 3: earns no points (excluded)", "points capped at 100 per order"]
    assert earn_points(cfg, LINES, ctx(earned_today=120)).points == 30
    assert earn_points(cfg, LINES, ctx(earned_today=150)).points == 0
    high_min = PointsConfig(minimum_order_minor=20000)
    assert earn_points(high_min, LINES[:2], ctx()).points == 0
    assert earn_points(PointsConfig(exclude_skus=["TEA-1"]), LINES[:2], ctx()).points == 40


def test_earn_base_settings() -> None:
    before = earn_points(PointsConfig(earn_base="before_discounts"), LINES[:2], ctx())
    assert before.points == 174  # 128.50 + 45.50
    after_red = earn_points(
        PointsConfig(earn_base="after_redemptions"), LINES[:2], ctx(cash_share=Fraction(1, 2))
    )
    assert after_red.points == 84  # (128.50 + 40) / 2 = 84.25


def test_top_up_bonus_levels_and_spending_order() -> None:
    cfg = StoredValueConfig(
        bonus_levels=[
            {"top_up_minor": 10000, "bonus_minor": 2000},
            {"top_up_minor": 50000, "bonus_minor": 15000},
        ]
    )
    assert [cfg.bonus_for(a) for a in (9999, 10000, 49999, 50000, 90000)] == [
        0,
        2000,
        2000,
        15000,
        15000,
    ]
    held = StoredBalance(principal=3000, bonus=1000)
    assert split_spend(cfg, held, 3500) == (3000, 500)
    bonus_first = StoredValueConfig(spend_order="bonus_first")
    assert split_spend(bonus_first, held, 3500) == (2500, 1000)
