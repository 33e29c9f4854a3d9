"""Segment rule fields about coupons (registered in ``patron.core.member_fields``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, not_, or_

from patron.core.member_fields import Context, ValueKind, register_field
from patron.coupons.models import CodeStatus, CouponCode
from patron.members.models import Member

NAMES = ("has_coupon", "coupon_expiring_within_days")


def _usable(ctx: Context) -> list[ColumnElement[bool]]:
    return [
        CouponCode.member_id == Member.id,
        CouponCode.merchant_id == ctx.merchant_id,
        CouponCode.status == CodeStatus.ISSUED.value,
        or_(CouponCode.expires_at.is_(None), CouponCode.expires_at > ctx.now),
    ]


@register_field(
    "has_coupon",
    {"has", "has_not"},
    "holds an unused coupon of template (value: template id)",
    time_relative=True,
    kind=ValueKind.CHOICE,
)
def _has_coupon(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("a coupon template id")
    held = exists().where(*_usable(ctx), CouponCode.template_id == value)
    return held if op == "has" else not_(held)


@register_field(
    "coupon_expiring_within_days",
    {"lte"},
    "holds an unused coupon that expires in the next N days",
    time_relative=True,
    kind=ValueKind.DAYS,
)
def _expiring(ctx: Context, _op: str, value: Any) -> ColumnElement[bool]:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 3660:
        raise ValueError("0 to 3660 days")
    return exists().where(
        *_usable(ctx),
        CouponCode.expires_at.is_not(None),
        CouponCode.expires_at <= ctx.now + timedelta(days=value),
    )
