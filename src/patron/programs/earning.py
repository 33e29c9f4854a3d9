"""Points and growth a purchase earns: pure computations, no database (ADR 0351).

The formula, per line::

    line points (exact) = base × earn_points / per_minor × factor
    factor = tier benefit multiplier × tier multipliers × store multipliers
             × (product multiplier, else category multiplier) × date-range multipliers
             × member day multiplier

Multipliers of different kinds multiply; for one line the product multiplier replaces the
category multiplier (the more specific wins). The order's exact sum is rounded once (floor or
half-up, as set), then the caps (per order, then what is left of the day's cap) apply, and the
whole points are shared out to the lines in proportion to their exact points (largest
remainder), so refunds by line take back exactly what each line earned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from math import floor, lcm

from patron.programs.config import Multiplier, PointsConfig, TiersConfig


def split_by_weight(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` in proportion to ``weights`` (largest remainder; parts sum exactly)."""
    total = sum(weights)
    if total <= 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[: amount - sum(shares)]:
        shares[i] += 1
    return shares


def round_points(value: Fraction, mode: str) -> int:
    if mode == "half_up":
        return floor(value + Fraction(1, 2))
    return floor(value)


@dataclass(frozen=True)
class EarnLine:
    """A cart or order line as earning sees it (amounts in minor units)."""

    line_no: int
    sku: str | None
    category: str | None
    gross_minor: int  # quantity × unit price
    paid_minor: int  # after every discount (its share of order discounts included)


@dataclass(frozen=True)
class EarnContext:
    tier_code: str | None
    tier_multiplier: Fraction
    store_code: str | None
    local_date: date
    member_day_multiplier: Fraction
    cash_share: Fraction  # cash ÷ order total, for the "after redemptions" base
    earned_today: int  # points already earned from purchases on this local date


@dataclass
class Earning:
    points: int
    growth: int
    line_points: dict[int, int] = field(default_factory=dict)
    line_growth: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _matches(m: Multiplier, line: EarnLine, ctx: EarnContext) -> bool:
    if m.applies_to == "tier":
        return m.value == ctx.tier_code
    if m.applies_to == "store":
        return m.value == ctx.store_code
    if m.applies_to == "category":
        return m.value == line.category
    if m.applies_to == "product":
        return m.value == line.sku
    assert m.starts_on is not None and m.ends_on is not None
    return m.starts_on <= ctx.local_date <= m.ends_on


def line_factor(cfg: PointsConfig, line: EarnLine, ctx: EarnContext) -> Fraction:
    """The multiplier of one line (see the module docstring for the stacking rule)."""
    factor = ctx.tier_multiplier * ctx.member_day_multiplier
    product = [m for m in cfg.multipliers if m.applies_to == "product" and _matches(m, line, ctx)]
    category = [m for m in cfg.multipliers if m.applies_to == "category" and _matches(m, line, ctx)]
    for m in cfg.multipliers:
        if m.applies_to in ("tier", "store", "dates") and _matches(m, line, ctx):
            factor *= Fraction(m.factor)
    for m in product or category:
        factor *= Fraction(m.factor)
    return factor


def _base(cfg: PointsConfig, line: EarnLine, ctx: EarnContext) -> Fraction:
    if cfg.earn_base == "before_discounts":
        return Fraction(line.gross_minor)
    if cfg.earn_base == "after_redemptions":
        return line.paid_minor * ctx.cash_share
    return Fraction(line.paid_minor)


def _excluded(cfg: PointsConfig, line: EarnLine) -> bool:
    return (line.sku is not None and line.sku in cfg.exclude_skus) or (
        line.category is not None and line.category in cfg.exclude_categories
    )


def _share_out(total: int, exact: dict[int, Fraction]) -> dict[int, int]:
    if not exact:
        return {}
    denominator = lcm(*(f.denominator for f in exact.values()))
    keys = sorted(exact)
    weights = [int(exact[k] * denominator) for k in keys]
    return dict(zip(keys, split_by_weight(total, weights), strict=True))


def earn_points(cfg: PointsConfig, lines: Sequence[EarnLine], ctx: EarnContext) -> Earning:
    """Points of a purchase (growth left at 0: see :func:`earn_growth`)."""
    out = Earning(0, 0)
    paid = sum(ln.paid_minor for ln in lines)
    if paid < cfg.minimum_order_minor:
        out.notes.append(f"no points: the order is below the minimum of {cfg.minimum_order_minor}")
        return out
    rate = Fraction(cfg.earn_points, cfg.per_minor)
    exact: dict[int, Fraction] = {}
    for line in lines:
        if _excluded(cfg, line):
            out.notes.append(f"line {line.line_no}: earns no points (excluded)")
            continue
        exact[line.line_no] = _base(cfg, line, ctx) * rate * line_factor(cfg, line, ctx)
    points = round_points(sum(exact.values(), Fraction(0)), cfg.rounding)
    if cfg.cap_per_order is not None and points > cfg.cap_per_order:
        points = cfg.cap_per_order
        out.notes.append(f"points capped at {cfg.cap_per_order} per order")
    if cfg.cap_per_day is not None:
        left = max(0, cfg.cap_per_day - ctx.earned_today)
        if points > left:
            points = left
            out.notes.append(f"points capped at {cfg.cap_per_day} per day")
    out.points = points
    out.line_points = _share_out(points, exact)
    return out


def earn_growth(cfg: TiersConfig, lines: Sequence[EarnLine]) -> tuple[int, dict[int, int]]:
    """Growth of a purchase: on what was paid for the goods, rounded down, shared by line."""
    paid = sum(ln.paid_minor for ln in lines)
    growth = paid * cfg.growth_per // cfg.per_minor
    keys = [ln.line_no for ln in lines]
    shares = split_by_weight(growth, [ln.paid_minor for ln in lines])
    return growth, dict(zip(keys, shares, strict=True))
