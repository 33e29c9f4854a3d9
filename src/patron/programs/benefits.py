"""The seam between checkout and benefit programs (coupons, gift with purchase, mall vouchers).

A provider looks at the cart after tier and member day discounts and returns the benefits that
apply; checkout applies discounts (line or order level), lists gifts, and at commit asks every
provider to consume what was used, in the same transaction as the order. Providers are
registered by appending to :data:`PROVIDERS` (one line, like routers and tasks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class CartLine:
    line_no: int
    sku: str | None
    name: str
    category: str | None
    quantity: int
    unit_price_minor: int
    discount_minor: int  # member discounts (tier, member day) already applied to this line

    @property
    def gross_minor(self) -> int:
        return self.quantity * self.unit_price_minor

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.discount_minor


@dataclass(frozen=True)
class Cart:
    store_id: int | None
    store_code: str | None
    lines: Sequence[CartLine]

    @property
    def net_minor(self) -> int:
        return sum(ln.net_minor for ln in self.lines)


@dataclass(frozen=True)
class Benefit:
    """One benefit a provider grants: a discount (``amount_minor`` off one line or the order)
    or a gift (``gift_sku``/``gift_name`` × ``gift_quantity`` at no charge)."""

    provider: str
    kind: Literal["discount", "gift"]
    label: str  # in the merchant's words, shown to the clerk and the member
    amount_minor: int = 0
    line_no: int | None = None  # None: off the order (shared over the lines by their price)
    code: str | None = None
    gift_sku: str | None = None
    gift_name: str | None = None
    gift_quantity: int = 0
    data: dict[str, Any] = field(default_factory=dict)  # the provider's own reference


class BenefitProvider(Protocol):
    name: str

    def evaluate(
        self,
        session: Session,
        merchant_id: int,
        member_id: int | None,
        cart: Cart,
        codes: Sequence[str],
        at: datetime,
    ) -> list[Benefit]:
        """Benefits that apply to this cart (read-only). Unknown or unusable codes raise a
        PatronError (e.g. 422 ``coupon_not_usable``) so the clerk sees why."""
        ...

    def consume(
        self,
        session: Session,
        merchant_id: int,
        member_id: int | None,
        benefits: Sequence[Benefit],
        order_id: int,
        at: datetime,
    ) -> None:
        """Use up what the committed order took (coupon uses, gift stock) under the limits,
        in the caller's transaction; raise a PatronError if a limit was reached meanwhile."""
        ...


PROVIDERS: list[BenefitProvider] = []
