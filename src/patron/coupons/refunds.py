"""Coupons and refunds (ADR 0451): a coupon comes back only when its order is fully refunded.

The restore itself runs from the ``order.refunded`` outbox event (:mod:`patron.coupons.automation`),
so the refund path needs no knowledge of coupons; :func:`coupons_after_refund` tells a till,
before a refund, what it will do to the coupons used on the order, by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.events import emit
from patron.coupons.models import CodeStatus, CouponCode
from patron.coupons.service import code_payload, get_template, order_coupons


def refund_restores_coupons(order_status: str) -> bool:
    """Policy (ADR 0451): only a refund that leaves the order fully refunded gives back the
    coupons used on it; a partial refund keeps them used."""
    return order_status == "refunded"


def _comes_back_valid(code: CouponCode, now: datetime) -> bool:
    return code.expires_at is None or code.expires_at > now


def restore_for_refund(session: Session, merchant_id: int, order_id: int) -> int:
    """Policy: coupons used on a FULLY refunded order come back if still valid; a coupon past its
    end comes back as expired (never usable again). Partial refunds keep the coupon used."""
    now = utcnow(session)
    codes = list(
        session.scalars(
            select(CouponCode).where(
                CouponCode.merchant_id == merchant_id,
                CouponCode.redeemed_order_id == order_id,
                CouponCode.status == CodeStatus.REDEEMED.value,
            )
        )
    )
    restored = 0
    for code in codes:
        valid = _comes_back_valid(code, now)
        code.status = (CodeStatus.ISSUED if valid else CodeStatus.EXPIRED).value
        code.redeemed_at = None
        code.redeemed_order_id = None
        session.flush()
        restored += int(valid)
        template = get_template(session, merchant_id, code.template_id)
        payload = {**code_payload(code, template), "order_id": order_id}
        emit(session, merchant_id, "coupon.restored", payload, subject_id=code.member_id)
    return restored


@dataclass(frozen=True)
class CouponAfterRefund:
    """A coupon used on an order, and what a refund does to it: ``restored`` (usable again),
    ``expired`` (comes back past its end) or ``kept`` (stays used: a partial refund)."""

    code: str
    name: str
    fate: str


def coupons_after_refund(
    session: Session, merchant_id: int, order_id: int, order_status: str
) -> list[CouponAfterRefund]:
    """What a refund leaving the order in ``order_status`` does to the coupons used on it, by
    the rules :func:`restore_for_refund` applies (read-only)."""
    now = utcnow(session)
    used = order_coupons(session, merchant_id, [order_id]).get(order_id, [])
    restores = refund_restores_coupons(order_status)
    return [
        CouponAfterRefund(
            code.code,
            template.name,
            ("restored" if _comes_back_valid(code, now) else "expired") if restores else "kept",
        )
        for code, template in used
    ]
