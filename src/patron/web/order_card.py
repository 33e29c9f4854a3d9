"""An order's total explained, for the member page's order history and the till (ADR 0383).

An order's lines, after their discounts, add up to its subtotal; a coupon on the whole order
takes it down to the total for the goods; points and stored value then pay part of that total,
and the rest is what the member paid in cash or by card. Everything is read from what was
recorded (the order, its lines, the payment split, the coupons used); nothing here computes a
price or writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from patron.coupons.service import order_coupons
from patron.orders.models import Order, OrderLine
from patron.programs.purchase import payments_of


@dataclass(frozen=True)
class OrderCard:
    """From the items at full price to what was paid in cash (minor units)::

    items − discounts on items = subtotal; subtotal − order coupon = total;
    total − points − stored value = paid in cash or by card.
    """

    items_minor: int
    item_discounts_minor: int
    subtotal_minor: int
    order_discount_minor: int
    total_minor: int
    points_redeemed: int = 0
    points_value_minor: int = 0
    stored_principal_minor: int = 0
    stored_bonus_minor: int = 0
    cash_minor: int = 0
    points_earned: int = 0
    growth_earned: int = 0
    refunded_minor: int = 0
    coupons: list[tuple[str, str]] = field(default_factory=list)  # (code, name)

    @property
    def stored_value_minor(self) -> int:
        return self.stored_principal_minor + self.stored_bonus_minor

    @property
    def paid_otherwise(self) -> bool:
        """Points or stored value paid part of it: the card shows the payment split."""
        return bool(self.points_value_minor or self.stored_value_minor)


def order_cards(
    session: Session,
    merchant_id: int,
    orders: Sequence[Order],
    lines: Mapping[int, Sequence[OrderLine]],
) -> dict[int, OrderCard]:
    """The explained total of each order, by order id (``lines``: each order's lines)."""
    ids = [o.id for o in orders]
    payments = payments_of(session, merchant_id, ids)
    used = order_coupons(session, merchant_id, ids)
    cards: dict[int, OrderCard] = {}
    for o in orders:
        items = sum(ln.quantity * ln.unit_price_minor for ln in lines.get(o.id, []))
        paid = payments.get(o.id)
        coupons = [(code.code, template.name) for code, template in used.get(o.id, [])]
        base = OrderCard(
            items_minor=items,
            item_discounts_minor=items - o.subtotal_minor,
            subtotal_minor=o.subtotal_minor,
            order_discount_minor=o.discount_minor,
            total_minor=o.total_minor,
            cash_minor=o.total_minor,
            refunded_minor=o.refunded_minor,
            coupons=coupons,
        )
        if paid is not None:
            base = replace(
                base,
                points_redeemed=paid.points_redeemed,
                points_value_minor=paid.points_value_minor,
                stored_principal_minor=paid.stored_principal_minor,
                stored_bonus_minor=paid.stored_bonus_minor,
                cash_minor=paid.cash_minor,
                points_earned=paid.points_earned,
                growth_earned=paid.growth_earned,
            )
        cards[o.id] = base
    return cards
