"""The quote in words a clerk can read aloud: one line per benefit, then what is due."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patron.checkout.schemas import CheckoutBenefitOut, CheckoutMemberOut, QuoteLineOut, QuoteOut
from patron.core.money import format_money
from patron.ledger.queries import MemberBalances
from patron.members.names import display_name
from patron.programs.config import Tier

if TYPE_CHECKING:
    from patron.checkout.quote import Quote


def money(amount: int, currency: str) -> str:
    """English receipt money in the currency's own decimals (JPY 1234 → ``JP¥1,234``)."""
    return format_money(amount, currency)


def _member(
    q: Quote, tier: Tier | None, balances: MemberBalances | None
) -> CheckoutMemberOut | None:
    if q.member is None or balances is None:
        return None
    name = display_name(q.member.first_name, q.member.last_name) or f"#{q.member.id}"
    b = balances.balances
    return CheckoutMemberOut(
        id=q.member.id,
        name=name,
        tier_code=tier.code if tier else None,
        tier_name=tier.name if tier else None,
        free_shipping=tier.free_shipping if tier else False,
        points_spendable=balances.points_spendable,
        points_pending=balances.points_pending,
        stored_value_minor=b["stored_principal"] + b["stored_bonus"],
    )


def _benefits(
    q: Quote, discounts: dict[int, tuple[int, int]], tier: Tier | None, cur: str
) -> list[CheckoutBenefitOut]:
    out = [
        CheckoutBenefitOut(
            kind="early_access",
            label=f"Early access for members: {ea.name} before its release on "
            f"{ea.release_at.astimezone(q.programs.zone):%Y-%m-%d %H:%M} (line {ea.line_no})",
            amount_minor=0,
            line_no=ea.line_no,
        )
        for ea in q.early_access
    ]
    for line_no, (tier_off, md_off) in discounts.items():
        if tier_off and tier is not None:
            label = f"{tier.name} discount {tier.discount_percent}% on line {line_no}"
            out.append(
                CheckoutBenefitOut(
                    kind="tier_discount", label=label, amount_minor=tier_off, line_no=line_no
                )
            )
        if md_off and q.programs.member_day is not None:
            pct = q.programs.member_day.config.discount_percent
            out.append(
                CheckoutBenefitOut(
                    kind="member_day_discount",
                    amount_minor=md_off,
                    line_no=line_no,
                    label=f"Member day {pct}% off on line {line_no}",
                )
            )
    for b in q.benefits:
        kind = "gift" if b.kind == "gift" else "coupon"
        out.append(
            CheckoutBenefitOut(
                kind=kind,
                label=b.label,
                amount_minor=b.amount_minor,
                code=b.code,
                line_no=b.line_no,
            )
        )
    p = q.payments
    if p.points_redeemed:
        out.append(
            CheckoutBenefitOut(
                kind="points_deduction",
                amount_minor=p.points_value_minor,
                label=f"{p.points_redeemed} points pay {money(p.points_value_minor, cur)}",
            )
        )
    if p.stored_principal_minor + p.stored_bonus_minor:
        used = p.stored_principal_minor + p.stored_bonus_minor
        out.append(
            CheckoutBenefitOut(
                kind="stored_value",
                amount_minor=used,
                label=f"Stored value pays {money(used, cur)} "
                f"(top-up {money(p.stored_principal_minor, cur)}, "
                f"bonus {money(p.stored_bonus_minor, cur)})",
            )
        )
    return out


def render(
    cur: str,
    q: Quote,
    discounts: dict[int, tuple[int, int]],
    paid: dict[int, int],
    tier: Tier | None,
    balances: MemberBalances | None,
    member_day: bool,
) -> QuoteOut:
    lines = [
        QuoteLineOut(
            line_no=ln.line_no,
            sku=ln.sku,
            name=ln.name,
            category=ln.category,
            quantity=ln.quantity,
            unit_price_minor=ln.unit_price_minor,
            gross_minor=ln.gross_minor,
            tier_discount_minor=discounts[ln.line_no][0],
            member_day_discount_minor=discounts[ln.line_no][1],
            coupon_discount_minor=ln.net_minor - paid[ln.line_no],
            total_minor=paid[ln.line_no],
            points_to_earn=q.earning.line_points.get(ln.line_no, 0),
        )
        for ln in q.cart.lines
    ]
    lines += [
        QuoteLineOut(
            line_no=len(lines) + i,
            sku=b.gift_sku,
            name=f"Gift: {b.gift_name or b.label}",
            category=None,
            quantity=max(b.gift_quantity, 1),
            unit_price_minor=0,
            gross_minor=0,
            tier_discount_minor=0,
            member_day_discount_minor=0,
            coupon_discount_minor=0,
            total_minor=0,
            points_to_earn=0,
            is_gift=True,
        )
        for i, b in enumerate((b for b in q.benefits if b.kind == "gift"), start=1)
    ]
    subtotal = sum(ln.gross_minor for ln in q.cart.lines)
    total = sum(paid.values())
    p = q.payments
    cash = total - p.non_cash_minor
    benefits = _benefits(q, discounts, tier, cur)
    receipt = [f"Subtotal {money(subtotal, cur)}"]
    receipt += [b.label for b in benefits if b.kind == "early_access"]
    receipt += [
        f"{b.label}: {'-' + money(b.amount_minor, cur) if b.amount_minor else 'free'}"
        for b in benefits
        if b.kind not in ("points_deduction", "stored_value", "early_access")
    ]
    receipt.append(f"Total for the goods {money(total, cur)}")
    receipt += [f"{b.label}" for b in benefits if b.kind in ("points_deduction", "stored_value")]
    receipt.append(f"To pay {money(cash, cur)}")
    if tier is not None and tier.free_shipping and q.member is not None:
        receipt.append(f"Free shipping ({tier.name})")
    if q.member is not None:
        pending = q.programs.points.config.pending_days if q.programs.points else 0
        when = f" (usable after {pending} days)" if pending and q.earning.points else ""
        receipt.append(f"Points earned {q.earning.points}{when}; growth {q.earning.growth}")
    return QuoteOut(
        currency=cur,
        member=_member(q, tier, balances),
        member_day=member_day,
        lines=lines,
        benefits=benefits,
        subtotal_minor=subtotal,
        discount_minor=subtotal - total,
        total_minor=total,
        points_redeemed=p.points_redeemed,
        points_value_minor=p.points_value_minor,
        stored_principal_minor=p.stored_principal_minor,
        stored_bonus_minor=p.stored_bonus_minor,
        cash_due_minor=cash,
        points_to_earn=q.earning.points,
        growth_to_earn=q.earning.growth,
        notes=list(q.earning.notes),
        receipt=receipt,
        rule_versions=q.programs.versions(),
    )
