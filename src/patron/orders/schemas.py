"""API shapes for products, orders and refunds. Money is in minor units (cents, fen)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from patron.core.patch import Patch


class ProductCreate(BaseModel):
    sku: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=300)
    category: str | None = Field(default=None, max_length=120)
    price_minor: StrictInt = Field(ge=0, le=10**12)
    tags: list[str] = Field(default_factory=list, max_length=50)
    active: bool = True
    release_at: AwareDatetime | None = Field(
        default=None, description="before this moment only members may buy it (early access)"
    )

    @field_validator("release_at")
    @classmethod
    def _release_in_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None


class ProductUpdate(Patch):
    clearable = frozenset({"category", "release_at"})

    name: str | None = Field(default=None, min_length=1, max_length=300)
    category: str | None = Field(default=None, max_length=120)
    price_minor: StrictInt | None = Field(default=None, ge=0, le=10**12)
    tags: list[str] | None = Field(default=None, max_length=50)
    active: bool | None = None
    release_at: AwareDatetime | None = Field(default=None, description="null: released")

    @field_validator("release_at")
    @classmethod
    def _release_in_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    sku: str
    name: str
    category: str | None
    price_minor: int
    tags: list[str]
    active: bool
    release_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CustomerRef(BaseModel):
    """How the order names its buyer when no member id is known: found, or created as a contact."""

    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    external_id: str | None = Field(default=None, max_length=254)
    namespace: str = Field(default="pos", max_length=40)
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)


class OrderLineIn(BaseModel):
    sku: str | None = Field(default=None, max_length=80)
    name: str | None = Field(
        default=None, max_length=300, description="defaults to the catalogue name"
    )
    category: str | None = Field(default=None, max_length=120)
    quantity: StrictInt = Field(ge=1, le=1_000_000)
    unit_price_minor: StrictInt | None = Field(
        default=None, ge=0, le=10**12, description="defaults to the catalogue price"
    )
    discount_minor: StrictInt = Field(default=0, ge=0, le=10**13)


# orders.external_id holds this many characters.
EXTERNAL_ID_MAX_LENGTH = 120


class OrderCreate(BaseModel):
    external_id: str = Field(
        min_length=1,
        max_length=EXTERNAL_ID_MAX_LENGTH,
        description="the merchant's order id; unique",
    )
    member_id: int | None = None
    customer: CustomerRef | None = None
    store_id: int | None = None
    store_code: str | None = Field(default=None, max_length=40)
    placed_at: datetime | None = Field(default=None, description="default: now")
    discount_minor: StrictInt = Field(
        default=0, ge=0, le=10**13, description="order-level discount"
    )
    lines: list[OrderLineIn] = Field(min_length=1, max_length=1000)
    source: str = Field(default="api", max_length=40)

    @model_validator(mode="after")
    def _one_buyer_ref(self) -> OrderCreate:
        if self.member_id is not None and self.customer is not None:
            raise ValueError("give member_id or customer, not both")
        if self.store_id is not None and self.store_code is not None:
            raise ValueError("give store_id or store_code, not both")
        return self


class OrderLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    line_no: int
    sku: str | None
    name: str
    category: str | None
    quantity: int
    unit_price_minor: int
    discount_minor: int
    total_minor: int
    paid_minor: int
    refunded_quantity: int
    refunded_minor: int


class RefundLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    order_line_id: int
    quantity: int
    amount_minor: int


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    order_id: int
    external_id: str
    refunded_at: datetime
    amount_minor: int
    reason: str | None
    lines: list[RefundLineOut] = []


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    external_id: str
    member_id: int | None
    store_id: int | None
    channel: str
    status: str
    placed_at: datetime
    currency: str
    subtotal_minor: int
    discount_minor: int
    total_minor: int
    refunded_minor: int
    source: str
    created_at: datetime
    lines: list[OrderLineOut] = []
    refunds: list[RefundOut] = []


class RefundLineIn(BaseModel):
    line_no: int = Field(ge=1)
    quantity: StrictInt = Field(ge=1)


class RefundCreate(BaseModel):
    external_id: str = Field(
        min_length=1, max_length=120, description="the merchant's refund id; unique"
    )
    lines: list[RefundLineIn] | None = Field(
        default=None, description="omit to refund everything left"
    )
    reason: str | None = Field(default=None, max_length=300)
    refunded_at: datetime | None = None


OrderStatusName = Literal["completed", "partially_refunded", "refunded", "cancelled"]
