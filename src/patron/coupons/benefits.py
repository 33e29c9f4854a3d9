"""Coupons at checkout: the coupon provider (codes the member hands over) for
:mod:`patron.programs.benefits`. The gift-with-purchase provider is in :mod:`patron.coupons.gifts`.

Stacking rules, in order:
1. each code is usable (issued, not yet/no longer valid, the member's own, right store);
2. a template with ``with_member_discounts = False`` is refused on a cart that carries tier or
   member day discounts (``coupon_not_combinable``);
3. several codes together must all be ``stackable``; an exclusive coupon goes alone
   (``coupon_not_stackable``); the same template twice only if it is stackable.
Each coupon is computed on the cart after member discounts; checkout caps the total at what is
left of each line and of the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from math import floor

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import BusinessRuleViolation, InvalidInput, PatronError
from patron.coupons.models import CodeStatus, CouponCode, CouponKind, CouponTemplate
from patron.coupons.service import normalize_code, redeem_code
from patron.programs.benefits import PROVIDERS, Benefit, Cart, CartLine
from patron.programs.earning import split_by_weight


def _not_usable(code: str, why: str, reason: str) -> BusinessRuleViolation:
    return BusinessRuleViolation(
        f"coupon {code}: {why}", code="coupon_not_usable", details={"code": code, "reason": reason}
    )


def check_code(
    code: CouponCode, template: CouponTemplate, member_id: int | None, cart: Cart, at: datetime
) -> None:
    """Refuse a code that this member cannot use on this cart now (rules 1 and 2)."""
    if code.status != CodeStatus.ISSUED.value:
        raise _not_usable(code.code, f"this coupon is {code.status}", code.status)
    if code.member_id is not None and code.member_id != member_id:
        raise _not_usable(code.code, "this coupon belongs to another member", "other_member")
    if code.valid_from is not None and at < code.valid_from:
        raise _not_usable(code.code, "this coupon is not valid yet", "not_yet_valid")
    if code.expires_at is not None and at >= code.expires_at:
        raise _not_usable(code.code, "this coupon has expired", "expired")
    if template.store_ids and cart.store_id not in template.store_ids:
        raise _not_usable(code.code, "not valid in this store", "store")
    if not template.with_member_discounts and any(ln.discount_minor > 0 for ln in cart.lines):
        raise BusinessRuleViolation(
            f"coupon {code.code} cannot be combined with member discounts",
            code="coupon_not_combinable",
            details={"code": code.code},
        )


def eligible_lines(template: CouponTemplate, cart: Cart) -> list[CartLine]:
    """Lines the coupon counts: all, or those in its categories or skus."""
    if not template.categories and not template.skus:
        return list(cart.lines)
    return [
        ln
        for ln in cart.lines
        if (ln.category is not None and ln.category in template.categories)
        or (ln.sku is not None and ln.sku in template.skus)
    ]


def discount_of(template: CouponTemplate, eligible_net: int) -> int:
    """The discount on ``eligible_net`` (minor units): fixed amount (never more than the
    lines), or a percentage rounded down to the minor unit and capped."""
    if template.kind == CouponKind.AMOUNT_OFF.value:
        return min(template.amount_off_minor or 0, eligible_net)
    off = floor(Fraction(eligible_net * (template.percent_off or 0), 100))
    if template.max_discount_minor is not None:
        off = min(off, template.max_discount_minor)
    return off


def benefits_of(code: CouponCode, template: CouponTemplate, cart: Cart) -> list[Benefit]:
    """The benefits of one usable code: a gift, an order discount, or line discounts."""
    lines = eligible_lines(template, cart)
    net = sum(ln.net_minor for ln in lines)
    if not lines or net < template.min_spend_minor:
        raise BusinessRuleViolation(
            f"coupon {code.code}: spend at least {template.min_spend_minor} on eligible items",
            code="coupon_min_spend_not_met",
            details={"code": code.code, "min_spend_minor": template.min_spend_minor, "spent": net},
        )
    data = {"code_id": code.id, "template_id": template.id}
    if template.kind == CouponKind.FREE_GIFT.value:
        return [
            Benefit(
                "coupons",
                "gift",
                template.name,
                code=code.code,
                gift_sku=template.gift_sku,
                gift_name=template.gift_name,
                gift_quantity=1,
                data=data,
            )
        ]
    off = discount_of(template, net)
    if len(lines) == len(cart.lines):
        return [Benefit("coupons", "discount", template.name, off, code=code.code, data=data)]
    shares = split_by_weight(off, [ln.net_minor for ln in lines])
    return [
        Benefit("coupons", "discount", template.name, share, ln.line_no, code.code, data=data)
        for ln, share in zip(lines, shares, strict=True)
        if share > 0
    ]


def load_codes(
    session: Session, merchant_id: int, codes: Sequence[str]
) -> list[tuple[CouponCode, CouponTemplate]]:
    """The codes as typed, with templates; unknown codes raise ``coupon_not_found`` (422)."""
    wanted = [normalize_code(c) for c in codes]
    if len(set(wanted)) != len(wanted):
        raise InvalidInput("the same coupon was given twice", code="coupon_repeated")
    rows = {
        c.code: (c, t)
        for c, t in session.execute(
            select(CouponCode, CouponTemplate)
            .join(CouponTemplate, CouponTemplate.id == CouponCode.template_id)
            .where(CouponCode.merchant_id == merchant_id, CouponCode.code.in_(wanted))
        )
    }
    missing = [c for c in wanted if c not in rows]
    if missing:
        raise BusinessRuleViolation(
            f"unknown coupon {missing[0]}", code="coupon_not_found", details={"codes": missing}
        )
    return [rows[c] for c in wanted]


def check_stacking(found: Sequence[tuple[CouponCode, CouponTemplate]]) -> None:
    """Rule 3: together only if every one of them is stackable."""
    if len(found) > 1:
        lone = [c.code for c, t in found if not t.stackable]
        if lone:
            raise BusinessRuleViolation(
                f"coupon {lone[0]} cannot be combined with other coupons",
                code="coupon_not_stackable",
                details={"codes": lone},
            )


@dataclass(frozen=True)
class FittingCoupon:
    """An unused coupon of the member that the cart could take now."""

    code: str
    name: str
    discount_minor: int  # what it takes off this cart on its own (0 for a gift)
    gift_name: str | None
    expires_at: datetime | None


def fitting_coupons(
    session: Session,
    merchant_id: int,
    member_id: int | None,
    cart: Cart,
    held: Sequence[str],
    at: datetime,
    limit: int = 5,
) -> list[FittingCoupon]:
    """The member's unused coupons, other than those ``held`` on the cart, that this cart could
    take now beside them — judged by the checkout's own rules (:func:`check_code`,
    :func:`check_stacking`, :func:`benefits_of`); the biggest discount first. Read-only."""
    if member_id is None:
        return []
    try:
        on_cart = load_codes(session, merchant_id, held) if held else []
    except PatronError:
        return []
    rows = session.execute(
        select(CouponCode, CouponTemplate)
        .join(CouponTemplate, CouponTemplate.id == CouponCode.template_id)
        .where(
            CouponCode.merchant_id == merchant_id,
            CouponCode.member_id == member_id,
            CouponCode.status == CodeStatus.ISSUED.value,
            CouponCode.code.not_in([c.code for c, _t in on_cart] or [""]),
        )
        .order_by(CouponCode.id)
    )
    found: list[FittingCoupon] = []
    for code, template in rows:
        try:
            check_stacking([*on_cart, (code, template)])
            check_code(code, template, member_id, cart, at)
            benefits = benefits_of(code, template, cart)
        except PatronError:
            continue
        off = sum(b.amount_minor for b in benefits if b.kind == "discount")
        gift = template.gift_name if template.kind == CouponKind.FREE_GIFT.value else None
        found.append(FittingCoupon(code.code, template.name, off, gift, code.expires_at))
    found.sort(key=lambda c: (-c.discount_minor, c.expires_at is None, c.expires_at or at))
    return found[:limit]


class CouponProvider:
    """Coupon codes handed over at the till (see module doc for the rules)."""

    name = "coupons"

    def evaluate(
        self,
        session: Session,
        merchant_id: int,
        member_id: int | None,
        cart: Cart,
        codes: Sequence[str],
        at: datetime,
    ) -> list[Benefit]:
        if not codes:
            return []
        found = load_codes(session, merchant_id, codes)
        check_stacking(found)
        benefits: list[Benefit] = []
        for code, template in found:
            check_code(code, template, member_id, cart, at)
            benefits += benefits_of(code, template, cart)
        return benefits

    def consume(
        self,
        session: Session,
        merchant_id: int,
        member_id: int | None,
        benefits: Sequence[Benefit],
        order_id: int,
        at: datetime,
    ) -> None:
        code_ids = sorted({int(b.data["code_id"]) for b in benefits if "code_id" in b.data})
        for code_id in code_ids:  # in id order, so two tills never deadlock
            redeem_code(session, merchant_id, code_id, order_id, at)


COUPONS = CouponProvider()
PROVIDERS.append(COUPONS)  # registration: checkout asks every provider in PROVIDERS
