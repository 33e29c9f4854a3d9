"""Checkout shapes: what a till sends for a quote or a commit, and the breakdown it gets back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictInt, model_validator


class CartLineIn(BaseModel):
    sku: str | None = Field(default=None, max_length=80)
    name: str | None = Field(default=None, max_length=300)
    category: str | None = Field(default=None, max_length=120)
    quantity: StrictInt = Field(ge=1, le=100_000)
    unit_price_minor: StrictInt | None = Field(
        default=None, ge=0, le=10**11, description="default: the catalogue price"
    )


class QuoteRequest(BaseModel):
    member_id: int | None = None
    phone: str | None = Field(default=None, max_length=40)
    qr_token: str | None = Field(default=None, max_length=500, description="membership QR code")
    store_id: int | None = None
    store_code: str | None = Field(default=None, max_length=40)
    lines: list[CartLineIn] = Field(min_length=1, max_length=500)
    coupon_codes: list[str] = Field(default_factory=list, max_length=20)
    points: StrictInt | Literal["max"] | None = Field(
        default=None, description="points to pay with, or 'max'"
    )
    stored_value: StrictInt | Literal["max"] | None = Field(
        default=None, description="stored value to pay with (minor units), or 'max'"
    )

    @model_validator(mode="after")
    def _one_member_ref(self) -> QuoteRequest:
        refs = [r for r in (self.member_id, self.phone, self.qr_token) if r is not None]
        if len(refs) > 1:
            raise ValueError("name the member once: member_id, phone or qr_token")
        for name, value in (("points", self.points), ("stored_value", self.stored_value)):
            if isinstance(value, int) and value < 0:
                raise ValueError(f"{name} cannot be negative")
        return self


class CommitRequest(QuoteRequest):
    order_external_id: str | None = Field(
        default=None, max_length=120, description="the shop's order id; default from the key"
    )


class QuoteLineOut(BaseModel):
    line_no: int
    sku: str | None
    name: str
    category: str | None
    quantity: int
    unit_price_minor: int
    gross_minor: int
    tier_discount_minor: int
    member_day_discount_minor: int
    coupon_discount_minor: int
    total_minor: int
    points_to_earn: int
    is_gift: bool = False


class CheckoutBenefitOut(BaseModel):
    # early_access, tier_discount, member_day_discount, coupon, gift, points_deduction,
    # stored_value
    kind: str
    label: str
    amount_minor: int
    code: str | None = None
    line_no: int | None = None


class CheckoutMemberOut(BaseModel):
    id: int
    name: str
    tier_code: str | None
    tier_name: str | None
    free_shipping: bool = Field(default=False, description="the member's tier ships free")
    points_spendable: int
    points_pending: int
    stored_value_minor: int


class QuoteOut(BaseModel):
    currency: str
    member: CheckoutMemberOut | None
    member_day: bool
    lines: list[QuoteLineOut]
    benefits: list[CheckoutBenefitOut]
    subtotal_minor: int
    discount_minor: int
    total_minor: int
    points_redeemed: int
    points_value_minor: int
    stored_principal_minor: int
    stored_bonus_minor: int
    cash_due_minor: int
    points_to_earn: int
    growth_to_earn: int
    notes: list[str]
    receipt: list[str]
    rule_versions: dict[str, int]


class CommitOut(BaseModel):
    order_id: int
    order_external_id: str
    replayed: bool
    quote: QuoteOut
