"""Grants that campaigns and journeys give with a message: a coupon or points.

Both are idempotent by a key the caller derives from its own durable identity (campaign and
member, journey enrolment and step), so a retried release or step never gives twice: coupons by
the coupon service's ``reason_key`` (unique per template and member), points by the ledger's
idempotency key. Both run in a savepoint: a refusal (coupon used up, template ended) undoes only
the grant and is reported to the caller, which decides what to do (pause, record a skip).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.coupons import service as coupons
from patron.coupons.models import CodeSource, CouponCode, CouponTemplate
from patron.ledger.service import EntryInfo, earn_points


def coupon_context(code: CouponCode, template: CouponTemplate) -> dict[str, Any]:
    """What a message template sees of a granted coupon (``coupon.code`` …)."""
    return {
        "code": code.code,
        "title": template.name,
        "value": template.amount_off_minor or template.percent_off or "",
        "expires_at": code.expires_at.date().isoformat() if code.expires_at else "",
    }


def grant_coupons(
    session: Session,
    merchant_id: int,
    template_id: int,
    member_ids: Sequence[int],
    reason_key: str,
) -> dict[int, dict[str, Any]]:
    """Issue one coupon of ``template_id`` to each member under ``reason_key`` (members given one
    under that key before keep theirs). Returns member id → coupon context. Raises the coupon
    service's refusal (e.g. ``coupon_issue_limit_reached``) with nothing issued."""
    with session.begin_nested():
        coupons.issue_bulk(
            session,
            merchant_id,
            template_id,
            member_ids,
            source=CodeSource.CAMPAIGN,
            reason_key=reason_key,
            actor="system:engagement",
        )
    template = coupons.get_template(session, merchant_id, template_id)
    codes = session.scalars(
        select(CouponCode).where(
            CouponCode.template_id == template_id,
            CouponCode.reason_key == reason_key,
            CouponCode.member_id.in_(list(member_ids)),
        )
    )
    return {c.member_id: coupon_context(c, template) for c in codes if c.member_id is not None}


def grant_points(
    session: Session,
    merchant_id: int,
    member_id: int,
    points: int,
    idempotency_key: str,
    description: str,
) -> None:
    """Give ``points`` once per ``idempotency_key`` (a replay returns the first entry)."""
    earn_points(
        session,
        merchant_id,
        member_id,
        points,
        EntryInfo(
            reason_code="engagement_gift", description=description, actor="system:engagement"
        ),
        idempotency_key=idempotency_key,
    )
