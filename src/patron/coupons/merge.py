"""Merging two members: coupon codes, mall orders and gift grants follow the kept member.

Automatic issues are idempotent per (template, member, reason key). When both records got the
same automatic coupon (say, both birthday coupons), both codes were really issued and stay
usable: the merged member's code keeps its key with a ``~merged:<id>`` suffix (ADR 0371).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.core.merge_hooks import STAGE_ROWS, register_merge_hook
from patron.coupons.models import CouponCode, GiftGrant, MallOrder

_KEY_LENGTH = 80


def _clashing_codes(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    kept = select(CouponCode.template_id, CouponCode.reason_key).where(
        CouponCode.merchant_id == merchant_id,
        CouponCode.member_id == keep_id,
        CouponCode.reason_key.is_not(None),
    )
    taken = {(t, k) for t, k in session.execute(kept)}
    gone = session.scalars(
        select(CouponCode).where(
            CouponCode.merchant_id == merchant_id,
            CouponCode.member_id == gone_id,
            CouponCode.reason_key.is_not(None),
        )
    )
    for code in gone:
        if (code.template_id, code.reason_key) in taken:
            suffix = f"~merged:{gone_id}"
            code.reason_key = (code.reason_key or "")[: _KEY_LENGTH - len(suffix)] + suffix
    session.flush()


def merge_coupons(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    """Move member ``gone_id``'s coupon codes, mall orders and gift grants to ``keep_id``."""
    _clashing_codes(session, merchant_id, keep_id, gone_id)
    for model in (CouponCode, MallOrder, GiftGrant):
        session.execute(
            update(model)
            .where(model.merchant_id == merchant_id, model.member_id == gone_id)
            .values(member_id=keep_id)
            .execution_options(synchronize_session=False)
        )


register_merge_hook(merge_coupons, STAGE_ROWS)
