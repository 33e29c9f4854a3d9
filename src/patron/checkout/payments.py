"""How much of the order points and stored value pay (points first, then stored value)."""

from __future__ import annotations

from typing import Literal

from patron.core.errors import BusinessRuleViolation
from patron.programs import stored_value
from patron.programs.context import Programs


def choose_points(
    programs: Programs, wanted: int | Literal["max"] | None, total: int, spendable: int
) -> tuple[int, int]:
    """(points, value) of the points deduction: whole blocks of the redemption rate, at most
    the maximum share of the order and what the member can spend."""
    if wanted is None or wanted == 0:
        return 0, 0
    if programs.points is None or not programs.points.config.redemption.enabled:
        raise BusinessRuleViolation("points cannot pay at this shop", code="redemption_disabled")
    r = programs.points.config.redemption
    limit_blocks = min(spendable // r.points, total * r.max_share_percent // 100 // r.value_minor)
    if wanted == "max":
        blocks = limit_blocks
    else:
        if wanted < r.minimum_points:
            raise BusinessRuleViolation(
                f"at least {r.minimum_points} points pay at a time", code="below_minimum_points"
            )
        if wanted > spendable:
            raise BusinessRuleViolation(
                "not enough points",
                code="insufficient_balance",
                details={"asset": "points", "available": spendable},
            )
        blocks = wanted // r.points
        if blocks > limit_blocks:
            raise BusinessRuleViolation(
                f"points may pay at most {r.max_share_percent}% of the order",
                code="points_over_limit",
                details={"max_points": limit_blocks * r.points},
            )
    points = blocks * r.points
    if points and points < r.minimum_points:
        return 0, 0
    return points, blocks * r.value_minor


def choose_stored_value(
    programs: Programs,
    held: stored_value.StoredBalance,
    wanted: int | Literal["max"] | None,
    due: int,
) -> tuple[int, int]:
    """(principal, bonus) paying ``wanted`` (or as much as possible, ``max``) of ``due``."""
    if wanted is None or wanted == 0:
        return 0, 0
    if wanted == "max":
        amount = min(held.total, due)
    else:
        if wanted > due:
            raise BusinessRuleViolation(
                "stored value cannot pay more than is due",
                code="stored_value_over_due",
                details={"due_minor": due},
            )
        amount = wanted
    return stored_value.split_spend(programs.stored_value.config, held, amount)
