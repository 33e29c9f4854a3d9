"""How demo members shop through the programs: which coupon they bring, when they pay with points
or their top-up balance, when they top up, and when they treat themselves in the points mall.

Choices are drawn from one seeded ``random.Random`` in event order, so a replay is deterministic
for a seed. Balances a choice depends on are remembered from the member's last checkout (what the
till showed them), not queried again: a real member decides from what they last saw too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.checkout.schemas import CartLineIn, CommitOut, CommitRequest
from patron.checkout.service import commit
from patron.core.errors import PatronError
from patron.coupons import mall
from patron.coupons.models import CodeStatus, CouponCode, CouponTemplate
from patron.demo.setup import DemoPrograms
from patron.imports.rows import OrderRow
from patron.programs.stored_value import top_up

ACTOR = "demo"
COUPON_USE = 0.8  # a member holding a usable coupon brings it
POINTS_USE = 0.35  # ... pays with points when they hold at least POINTS_MIN
POINTS_MIN = 1_000
MALL_VISIT = 0.1  # after a checkout, chance of a points mall redemption
TOP_UP_SHARE = 10  # percent of registered members who keep a top-up balance
TOP_UP_AMOUNTS = (50_000, 100_000)  # ¥500 and ¥1,000: the two bonus levels
TOP_UP_LOW = 5_000  # they top up again when their balance falls under ¥50


@dataclass
class Wallet:
    """What a member last saw at the till."""

    points: int = 0
    stored: int = 0
    orders: int = 0


@dataclass
class Shopper:
    """Drives checkouts for the demo's registered members."""

    merchant_id: int
    programs: DemoPrograms
    secret: str
    rng: random.Random
    wallets: dict[int, Wallet] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def _coupon(self, session: Session, member_id: int, gross: int, now: datetime) -> str | None:
        rows = session.execute(
            select(CouponCode.code, CouponTemplate.min_spend_minor)
            .join(CouponTemplate, CouponTemplate.id == CouponCode.template_id)
            .where(
                CouponCode.merchant_id == self.merchant_id,
                CouponCode.member_id == member_id,
                CouponCode.status == CodeStatus.ISSUED.value,
                (CouponCode.valid_from.is_(None)) | (CouponCode.valid_from <= now),
                (CouponCode.expires_at.is_(None)) | (CouponCode.expires_at > now),
            )
            .order_by(CouponCode.expires_at, CouponCode.id)
        ).all()
        # Member discounts (tier, member day) come first: leave them room under the minimum.
        usable = [code for code, minimum in rows if minimum <= gross * 85 // 100]
        if usable and self.rng.random() < COUPON_USE:
            return str(usable[0])
        return None

    def _maybe_top_up(self, session: Session, member_id: int, index: int, key: str) -> bool:
        """Members of the top-up share top up on their second order and whenever low."""
        if index % 100 >= TOP_UP_SHARE:
            return False
        wallet = self.wallets.setdefault(member_id, Wallet())
        if wallet.orders < 1 or wallet.stored >= TOP_UP_LOW:
            return wallet.stored > 0
        if wallet.orders > 1 and self.rng.random() < 0.5:
            return False  # not every time they run low
        amount = TOP_UP_AMOUNTS[(index // 100 + wallet.orders) % 2]
        top_up(session, self.merchant_id, member_id, amount, f"demo-{key}", ACTOR)
        wallet.stored += amount + (5_000 if amount == 50_000 else 15_000)
        self._count("top_ups")
        return True

    def checkout(
        self, session: Session, member_id: int, index: int, row: OrderRow, now: datetime
    ) -> CommitOut:
        """Commit ``row`` as this member's checkout, with the coupon, points and top-up balance
        they choose; a coupon the till refuses is dropped and the cart tried again."""
        wallet = self.wallets.setdefault(member_id, Wallet())
        gross = sum(ln.quantity * ln.unit_price_minor for ln in row.lines)
        pays_stored = self._maybe_top_up(session, member_id, index, row.external_id)
        code = self._coupon(session, member_id, gross, now)
        req = CommitRequest(
            member_id=member_id,
            store_code=row.store_code,
            lines=[
                CartLineIn(
                    sku=ln.sku,
                    name=ln.name,
                    category=ln.category,
                    quantity=ln.quantity,
                    unit_price_minor=ln.unit_price_minor,
                )
                for ln in row.lines
            ],
            coupon_codes=[code] if code else [],
            points="max"
            if wallet.points >= POINTS_MIN and self.rng.random() < POINTS_USE
            else None,
            stored_value="max" if pays_stored else None,
            order_external_id=row.external_id,
        )
        key = f"demo-{row.external_id}"
        out = self._commit(session, req, key)
        q = out.quote
        if q.member is not None:
            wallet.points = q.member.points_spendable - q.points_redeemed
            wallet.stored = q.member.stored_value_minor - (
                q.stored_principal_minor + q.stored_bonus_minor
            )
        wallet.orders += 1
        self._count("coupons_used", len(req.coupon_codes) if out.quote.discount_minor else 0)
        self._count("points_paid", int(q.points_redeemed > 0))
        self._count("stored_value_paid", int(q.stored_principal_minor + q.stored_bonus_minor > 0))
        return out

    def _commit(self, session: Session, req: CommitRequest, key: str) -> CommitOut:
        if not req.coupon_codes:
            return commit(session, self.merchant_id, req, key, ACTOR, self.secret)
        try:
            with session.begin_nested():
                return commit(session, self.merchant_id, req, key, ACTOR, self.secret)
        except PatronError:
            self._count("coupons_refused")
            plain = req.model_copy(update={"coupon_codes": []})
            return commit(session, self.merchant_id, plain, key, ACTOR, self.secret)

    def visit_mall(self, session: Session, member_id: int, key: str) -> None:
        """Now and then a member with points to spare redeems something they can afford."""
        wallet = self.wallets.get(member_id)
        if wallet is None or self.rng.random() >= MALL_VISIT:
            return
        affordable = [o for o in self.programs.mall if o.points_price <= wallet.points]
        if not affordable:
            return
        offer = self.rng.choice(affordable)
        try:
            with session.begin_nested():
                mall.redeem(
                    session, self.merchant_id, member_id, offer.item_id, 1, f"demo-{key}", ACTOR
                )
        except PatronError:
            self._count("mall_refused")
            return
        wallet.points -= offer.points_price
        self._count("mall_orders")
