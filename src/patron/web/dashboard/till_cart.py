"""The till's sale in progress (ADR 0380): who is buying, in which store, what, with which
coupons, points and stored value — kept in the clerk's signed session cookie, so it survives a
reload and needs no table. The key minted with each new sale is the checkout's idempotency key:
tapping Charge twice, or sending the form again after a reload, replays the first sale.

The Charge form carries the whole sale as the clerk confirmed it (``Sale`` as JSON): the
commit records exactly what was shown, even if another tab changed the cart meanwhile.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import Request
from pydantic import BaseModel, Field, ValidationError

from patron.checkout.schemas import CartLineIn, CommitRequest, QuoteRequest
from patron.web.rendering import session_data

SESSION_KEY = "till"
MAX_LINES = 30  # the cookie holds the sale: a till's basket, not a warehouse order
MAX_COUPONS = 5
MAX_QUANTITY = 9999
# A sale key: the checkout idempotency key is "till-<key>"; the receipt is /till/receipt/<key>.
KEY_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
# The order number the receipt prints and a clerk may type to find the order again: short,
# upper case, without the letters read as digits (I, L, O, U).
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NUMBER_PATTERN = r"^T-[0-9A-Z]{4}-[0-9A-Z]{4}$"


Positive = Annotated[int, Field(ge=1, le=10**11)]


class SaleLine(BaseModel):
    sku: str = Field(min_length=1, max_length=80)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class Sale(BaseModel):
    """One sale at the till. Lines name catalogue products only (never a price: the checkout
    reads the catalogue)."""

    key: str = Field(pattern=KEY_PATTERN)
    number: str = Field(pattern=NUMBER_PATTERN)
    member_id: int | None = None
    store_id: int | None = None
    lines: list[SaleLine] = Field(default_factory=list, max_length=MAX_LINES)
    coupons: list[str] = Field(default_factory=list, max_length=MAX_COUPONS)
    points: Positive | Literal["max"] | None = None
    stored_value: Positive | Literal["max"] | None = None

    @property
    def idempotency_key(self) -> str:
        return f"till-{self.key}"

    @property
    def items(self) -> int:
        return sum(line.quantity for line in self.lines)

    def quantity_of(self, sku: str) -> int:
        return next((ln.quantity for ln in self.lines if ln.sku == sku), 0)

    def with_quantity(self, sku: str, quantity: int) -> Sale:
        """The sale with ``sku`` at ``quantity`` (0 removes it; a new sku goes last)."""
        lines = [
            SaleLine(sku=ln.sku, quantity=quantity if ln.sku == sku else ln.quantity)
            for ln in self.lines
            if ln.sku != sku or quantity > 0
        ]
        if quantity > 0 and all(ln.sku != sku for ln in lines):
            lines.append(SaleLine(sku=sku, quantity=quantity))
        return self.model_copy(update={"lines": lines})

    def quote_request(self) -> QuoteRequest | None:
        """What the checkout quotes (None while the cart is empty)."""
        if not self.lines:
            return None
        return QuoteRequest(
            member_id=self.member_id,
            store_id=self.store_id,
            lines=[CartLineIn(sku=ln.sku, quantity=ln.quantity) for ln in self.lines],
            coupon_codes=list(self.coupons),
            points=self.points if self.member_id else None,
            stored_value=self.stored_value if self.member_id else None,
        )

    def commit_request(self) -> CommitRequest | None:
        req = self.quote_request()
        return CommitRequest(**req.model_dump(), order_external_id=self.number) if req else None


def new_sale(store_id: int | None = None) -> Sale:
    """An empty sale with a fresh key and order number (a walk-in customer until a member is
    found)."""
    digits = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    number = f"T-{digits[:4]}-{digits[4:]}"
    return Sale(key=secrets.token_urlsafe(18), number=number, store_id=store_id)


def current_sale(request: Request) -> Sale:
    """The sale in this clerk's session (a new one if there is none, or it cannot be read)."""
    raw = session_data(request).get(SESSION_KEY)
    if isinstance(raw, dict):
        try:
            return Sale.model_validate(raw)
        except ValidationError:
            pass
    return new_sale()


def keep_sale(request: Request, sale: Sale) -> None:
    request.scope["session"][SESSION_KEY] = sale.model_dump(mode="json", exclude_defaults=True)


def sale_of_form(text: str) -> Sale | None:
    """The sale a Charge form carried (None if it was tampered with or is malformed)."""
    try:
        return Sale.model_validate_json(text)
    except ValidationError:
        return None
