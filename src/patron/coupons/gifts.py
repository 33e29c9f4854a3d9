"""Gift with purchase: "spend X (optionally in categories) or buy sku Y → get gift Z while stock
lasts", as a checkout benefit provider. Stock is taken at commit with a conditional
``UPDATE gift_rules SET stock = stock - q WHERE stock >= q``: the quote only shows a gift while
stock remains, and of two tills racing for the last one, one gets it and the other is refused
(``gift_out_of_stock``, 409: re-quote and the gift is gone)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, NotFound
from patron.core.merchant_cache import MERCHANT_CACHE, merchant_version
from patron.core.paging import newest_first
from patron.coupons.models import GiftGrant, GiftRule
from patron.coupons.schemas import GiftRuleIn, GiftRulePatch
from patron.programs.benefits import PROVIDERS, Benefit, Cart

_TAKE_STOCK = text(
    "UPDATE gift_rules SET stock = stock - :q WHERE id = :id AND merchant_id = :m "
    "AND stock >= :q RETURNING stock"
)


def create_rule(session: Session, merchant_id: int, data: GiftRuleIn) -> GiftRule:
    """Define a gift-with-purchase rule."""
    now = utcnow(session)
    rule = GiftRule(
        merchant_id=merchant_id,
        **data.model_dump(),
        status="active",
        created_at=now,
        updated_at=now,
    )
    session.add(rule)
    session.flush()
    return rule


def get_rule(session: Session, merchant_id: int, rule_id: int) -> GiftRule:
    rule = session.get(GiftRule, rule_id)
    if rule is None or rule.merchant_id != merchant_id:
        raise NotFound("gift rule not found", code="gift_rule_not_found")
    return rule


def list_rules(
    session: Session, merchant_id: int, limit: int | None = None, cursor: int | None = None
) -> list[GiftRule]:
    """The merchant's gift rules, oldest first; with ``limit``, one page newest first."""
    query = select(GiftRule).where(GiftRule.merchant_id == merchant_id).order_by(GiftRule.id)
    return list(session.scalars(newest_first(query, GiftRule.id, limit, cursor)))


def update_rule(session: Session, merchant_id: int, rule_id: int, data: GiftRulePatch) -> GiftRule:
    """Change the name, restock (sets the remaining stock), end date or status."""
    rule = get_rule(session, merchant_id, rule_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(rule, key, value)
    rule.updated_at = utcnow(session)
    session.flush()
    return rule


@dataclass(frozen=True)
class GiftOffer:
    """An active gift rule as a quote reads it (cached: ADR 0900). ``stock`` is as of the
    merchant's set-up version: exact about "enough for one more gift", which is all a quote
    asks (the commit takes stock with a conditional UPDATE)."""

    id: int
    name: str
    min_spend_minor: int | None
    categories: list[str]
    buy_sku: str | None
    gift_sku: str
    gift_name: str
    gift_quantity: int
    stock: int | None
    active_from: datetime | None
    active_to: datetime | None


def active_gift_rules(session: Session, merchant_id: int) -> list[GiftOffer]:
    """The merchant's active gift rules, oldest first, from the merchant cache."""

    def load() -> list[GiftOffer]:
        rows = session.scalars(
            select(GiftRule)
            .where(GiftRule.merchant_id == merchant_id, GiftRule.status == "active")
            .order_by(GiftRule.id)
        )
        return [
            GiftOffer(
                r.id,
                r.name,
                r.min_spend_minor,
                list(r.categories or []),
                r.buy_sku,
                r.gift_sku,
                r.gift_name,
                r.gift_quantity,
                r.stock,
                r.active_from,
                r.active_to,
            )
            for r in rows
        ]

    version = merchant_version(session, merchant_id)
    return MERCHANT_CACHE.part(merchant_id, version, "gift_rules", load)


def qualifies(rule: GiftRule | GiftOffer, cart: Cart) -> bool:
    """Does this cart earn the gift? Spend is measured after member discounts."""
    if rule.buy_sku is not None:
        return any(ln.sku == rule.buy_sku for ln in cart.lines)
    lines = [ln for ln in cart.lines if not rule.categories or ln.category in rule.categories]
    return sum(ln.net_minor for ln in lines) >= (rule.min_spend_minor or 0)


class GiftProvider:
    name = "gifts"

    def evaluate(
        self,
        session: Session,
        merchant_id: int,
        member_id: int | None,
        cart: Cart,
        codes: Sequence[str],
        at: datetime,
    ) -> list[Benefit]:
        rules = [
            rule
            for rule in active_gift_rules(session, merchant_id)
            if (rule.active_from is None or rule.active_from <= at)
            and (rule.active_to is None or rule.active_to > at)
            and (rule.stock is None or rule.stock >= rule.gift_quantity)
        ]
        return [
            Benefit(
                self.name,
                "gift",
                f"Gift with purchase: {rule.gift_name}",
                gift_sku=rule.gift_sku,
                gift_name=rule.gift_name,
                gift_quantity=rule.gift_quantity,
                data={"rule_id": rule.id},
            )
            for rule in rules
            if qualifies(rule, cart)
        ]

    def consume(
        self,
        session: Session,
        merchant_id: int,
        member_id: int | None,
        benefits: Sequence[Benefit],
        order_id: int,
        at: datetime,
    ) -> None:
        for b in sorted(benefits, key=lambda b: int(b.data["rule_id"])):
            rule = get_rule(session, merchant_id, int(b.data["rule_id"]))
            if rule.stock is not None:
                taken = session.execute(
                    _TAKE_STOCK, {"q": b.gift_quantity, "id": rule.id, "m": merchant_id}
                ).first()
                if taken is None:
                    raise Conflict(
                        f"the gift {rule.gift_name} ran out meanwhile",
                        code="gift_out_of_stock",
                        details={"rule_id": rule.id},
                    )
                session.expire(rule, ["stock"])
            session.add(
                GiftGrant(
                    merchant_id=merchant_id,
                    rule_id=rule.id,
                    order_id=order_id,
                    member_id=member_id,
                    quantity=b.gift_quantity,
                    granted_at=at,
                )
            )
        session.flush()


GIFTS = GiftProvider()
PROVIDERS.append(GIFTS)  # registration: checkout asks every provider in PROVIDERS
