"""Segment rule fields over the stored predictions (``member_predictions``).

A member without a prediction (never bought, or not scored yet) matches none of the
comparisons except ``ne`` / ``not_in`` (as with other optional member values).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select

from patron.analytics.models import MemberPrediction
from patron.core.member_fields import (
    COMPARE,
    Context,
    ValueKind,
    compare,
    register_field,
)
from patron.members.models import Member

NUMERIC_OPS = COMPARE - {"in", "not_in"}
RFM_SCORES = {"r": MemberPrediction.rfm_r, "f": MemberPrediction.rfm_f, "m": MemberPrediction.rfm_m}


def _value_of(ctx: Context, column: Any) -> Any:
    return (
        select(column)
        .where(
            MemberPrediction.merchant_id == ctx.merchant_id,
            MemberPrediction.member_id == Member.id,
        )
        .scalar_subquery()
    )


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a number")
    return float(value)


def _numbers(op: str, value: Any) -> Any:
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("[low, high]")
        return [_number(v) for v in value]
    return _number(value)


@register_field(
    "p_alive",
    NUMERIC_OPS,
    "predicted probability the customer is still active (0-1)",
    kind=ValueKind.PROBABILITY,
)
def _p_alive(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    return compare(_value_of(ctx, MemberPrediction.p_alive), op, _numbers(op, value))


@register_field(
    "expected_purchases",
    NUMERIC_OPS,
    "predicted purchases in the prediction horizon (90 days)",
    kind=ValueKind.NUMBER,
)
def _expected(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    return compare(_value_of(ctx, MemberPrediction.expected_purchases), op, _numbers(op, value))


@register_field(
    "predicted_clv",
    NUMERIC_OPS,
    "predicted lifetime value, minor units (12 months)",
    kind=ValueKind.MONEY,
)
def _clv(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    return compare(_value_of(ctx, MemberPrediction.expected_clv_minor), op, _numbers(op, value))


@register_field(
    "rfm_segment",
    {"eq", "ne", "in", "not_in"},
    "RFM segment (champions, at_risk …)",
    kind=ValueKind.CHOICE,
)
def _rfm_segment(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise ValueError("a segment name or a list of them")
    return compare(_value_of(ctx, MemberPrediction.rfm_segment), op, value)


@register_field(
    "rfm_score",
    NUMERIC_OPS | {"in"},
    "RFM score 1-5: {score: r|f|m, value}",
    kind=ValueKind.OBJECT,
)
def _rfm_score(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    if not isinstance(value, dict) or value.get("score") not in RFM_SCORES:
        raise ValueError("{score: 'r' | 'f' | 'm', value: …}")
    column = _value_of(ctx, RFM_SCORES[value["score"]])
    target = value.get("value")
    if op == "in":
        if not isinstance(target, list) or not target:
            raise ValueError("a list of scores")
        return compare(column, op, [int(_number(v)) for v in target])
    return compare(column, op, _numbers(op, target))
