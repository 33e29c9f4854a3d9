"""The checkout quote: every benefit that applies to a member's cart, line by line (read-only).

Order of application (ADR 0354): tier discount on each line's price, then the member day
discount on what is left, then coupons and other provider benefits; the order total is what
the member pays for the goods. Points and stored value are payments against that total, in
that order, and points and growth are earned on the base the merchant chose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy.orm import Session

# Checkout sits above coupons: importing the providers registers them in PROVIDERS.
import patron.coupons.benefits
import patron.coupons.gifts  # noqa: F401
from patron.checkout.early_access import EarlyAccessLine, early_access_lines
from patron.checkout.members import find_member, member_state
from patron.checkout.payments import choose_points, choose_stored_value
from patron.checkout.receipt import render
from patron.checkout.schemas import QuoteOut, QuoteRequest
from patron.core.errors import InvalidInput
from patron.core.money import check_order_amount
from patron.ledger.models import Asset
from patron.members.models import Member
from patron.orders.service import CatalogueItem, catalogue
from patron.programs.benefits import PROVIDERS, Benefit, Cart, CartLine
from patron.programs.context import Programs, load_programs
from patron.programs.earning import Earning, EarnLine, split_by_weight
from patron.programs.purchase import Payments, compute_earning
from patron.programs.stored_value import StoredBalance
from patron.programs.tiers import tier_of
from patron.tenancy.shop import ShopStore, find_store, shop


@dataclass
class Quote:
    """The breakdown (``out``) and what commit needs to record it."""

    out: QuoteOut
    member: Member | None
    store: ShopStore | None
    programs: Programs
    cart: Cart
    line_coupon: dict[int, int]
    order_discount_minor: int
    benefits: list[Benefit]
    payments: Payments
    earning: Earning = field(default_factory=lambda: Earning(0, 0))
    early_access: list[EarlyAccessLine] = field(default_factory=list)


def percent_off(amount: int, percent: Decimal) -> int:
    """A percentage discount, rounded down to the minor unit."""
    return int(Fraction(amount) * Fraction(percent) / 100)


def _priced_lines(
    known: Mapping[str, CatalogueItem], req: QuoteRequest, programs: Programs, tier_pct: Decimal
) -> tuple[list[CartLine], dict[int, tuple[int, int]]]:
    """Cart lines at catalogue (or given) prices with tier and member day discounts applied."""
    md = programs.member_day.config if programs.member_day and programs.is_member_day else None
    lines: list[CartLine] = []
    member_discounts: dict[int, tuple[int, int]] = {}
    for no, ln in enumerate(req.lines, start=1):
        product = known.get(ln.sku) if ln.sku else None
        price = (
            ln.unit_price_minor
            if ln.unit_price_minor is not None
            else (product.price_minor if product else None)
        )
        name = ln.name or (product.name if product else None)
        if price is None or name is None:
            raise InvalidInput(
                f"line {no}: unknown sku {ln.sku!r}; give name and unit_price_minor",
                code="unknown_sku",
            )
        category = (
            ln.category if ln.category is not None else (product.category if product else None)
        )
        gross = ln.quantity * price
        tier_off = percent_off(gross, tier_pct)
        md_off = percent_off(gross - tier_off, md.discount_percent) if md else 0
        member_discounts[no] = (tier_off, md_off)
        lines.append(CartLine(no, ln.sku, name, category, ln.quantity, price, tier_off + md_off))
    return lines, member_discounts


def _apply_benefits(
    cart: Cart, benefits: list[Benefit]
) -> tuple[dict[int, int], int, list[Benefit]]:
    """Line discounts (each capped at what is left of its line), then order discounts (capped
    at what is left of the order). Returns line coupon amounts, order discount, applied."""
    left = {ln.line_no: ln.net_minor for ln in cart.lines}
    line_coupon = dict.fromkeys(left, 0)
    applied: list[Benefit] = []
    for b in benefits:
        if b.kind == "discount" and b.line_no is not None:
            if b.line_no not in left:
                raise InvalidInput(f"a benefit names line {b.line_no}", code="unknown_line")
            amount = min(b.amount_minor, left[b.line_no])
            left[b.line_no] -= amount
            line_coupon[b.line_no] += amount
            applied.append(_with_amount(b, amount))
    order_discount = 0
    for b in benefits:
        if b.kind == "discount" and b.line_no is None:
            amount = min(b.amount_minor, sum(left.values()) - order_discount)
            order_discount += amount
            applied.append(_with_amount(b, amount))
        elif b.kind == "gift":
            applied.append(b)
    return line_coupon, order_discount, applied


def _with_amount(b: Benefit, amount: int) -> Benefit:
    return Benefit(b.provider, b.kind, b.label, amount, b.line_no, b.code, data=b.data)


def build_quote(
    session: Session, merchant_id: int, req: QuoteRequest, at: datetime, secret: str
) -> Quote:
    """Compute the quote (no writes). Commit calls this again inside its transaction: with the
    merchant's set-up cached (ADR 0900) it reads the member and the member's state only."""
    member = find_member(session, merchant_id, req, secret)
    state = member_state(session, merchant_id, member.id, at) if member else None
    programs = load_programs(session, merchant_id, at)
    currency = shop(session, merchant_id).currency
    store = find_store(session, merchant_id, req.store_id, req.store_code)
    tier = (
        tier_of(programs.tiers.config, state.tier_code)
        if state is not None and programs.tiers is not None
        else None
    )
    tier_pct = tier.discount_percent if tier else Decimal(0)
    known = catalogue(session, merchant_id, [ln.sku for ln in req.lines if ln.sku])
    early = early_access_lines(
        known, req, programs, member is not None, tier.code if tier else None
    )
    md_active = member is not None and programs.is_member_day
    if not md_active:
        programs = _without_member_day(programs)
    lines, member_discounts = _priced_lines(known, req, programs, tier_pct)
    check_order_amount(sum(ln.quantity * ln.unit_price_minor for ln in lines), "the cart")
    cart = Cart(store.id if store else None, store.code if store else None, lines)
    found: list[Benefit] = []
    for provider in PROVIDERS:
        found += provider.evaluate(
            session, merchant_id, member.id if member else None, cart, req.coupon_codes, at
        )
    if req.coupon_codes and not found:
        raise InvalidInput("no coupon program knows these codes", code="coupon_not_found")
    line_coupon, order_discount, applied = _apply_benefits(cart, found)
    nets = [ln.net_minor - line_coupon[ln.line_no] for ln in lines]
    shares = split_by_weight(order_discount, nets)
    paid = {ln.line_no: n - s for ln, n, s in zip(lines, nets, shares, strict=True)}
    total = sum(paid.values())
    payments = Payments()
    balances = state.balances if state else None
    if member is not None and balances is not None:
        points, value = choose_points(programs, req.points, total, balances.points_spendable)
        held = StoredBalance(
            balances.balances[Asset.STORED_PRINCIPAL.value],
            balances.balances[Asset.STORED_BONUS.value],
        )
        principal, bonus = choose_stored_value(programs, held, req.stored_value, total - value)
        payments = Payments(points, value, principal, bonus)
    quote = Quote(
        out=None,  # type: ignore[arg-type]
        member=member,
        store=store,
        programs=programs,
        cart=cart,
        line_coupon=line_coupon,
        order_discount_minor=order_discount,
        benefits=applied,
        payments=payments,
        early_access=early,
    )
    if member is not None:
        cash_share = Fraction(total - payments.non_cash_minor, total) if total else Fraction(0)
        earn_lines = [
            EarnLine(ln.line_no, ln.sku, ln.category, ln.gross_minor, paid[ln.line_no])
            for ln in lines
        ]
        quote.earning = compute_earning(
            session,
            programs,
            merchant_id,
            member.id,
            cart.store_code,
            earn_lines,
            cash_share,
            tier=tier,
        )
    quote.out = render(currency, quote, member_discounts, paid, tier, balances, md_active)
    return quote


def _without_member_day(programs: Programs) -> Programs:
    return replace(programs, member_day=None)
