"""API shapes for coupon templates and codes, the points mall and gift-with-purchase rules."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from patron.checkout.schemas import CartLineIn
from patron.core.patch import Patch

AutoIssue = Literal["welcome", "birthday", "tier_up"]


class TemplateIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    kind: Literal["amount_off", "percent_off", "free_gift"]
    amount_off_minor: StrictInt | None = Field(default=None, ge=1, le=10**11)
    percent_off: int | None = Field(default=None, ge=1, le=100)
    max_discount_minor: StrictInt | None = Field(default=None, ge=1, le=10**11)
    gift_sku: str | None = Field(default=None, max_length=80)
    gift_name: str | None = Field(default=None, max_length=200)
    min_spend_minor: StrictInt = Field(default=0, ge=0, le=10**11)
    categories: list[str] = Field(default_factory=list, max_length=200)
    skus: list[str] = Field(default_factory=list, max_length=1000)
    store_ids: list[int] = Field(default_factory=list, max_length=1000)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    valid_days: int | None = Field(default=None, ge=1, le=3660, description="N days from issue")
    per_member_limit: int | None = Field(default=None, ge=1, le=10_000)
    total_limit: int | None = Field(default=None, ge=0, le=10**9)
    stackable: bool = Field(default=False, description="usable with other stackable coupons")
    with_member_discounts: bool = Field(
        default=True, description="usable on a cart that has tier / member day discounts"
    )
    auto_issue_on: list[AutoIssue] = Field(default_factory=list)
    tier_codes: list[str] = Field(
        default_factory=list,
        description="tier_up and birthday: only for these tiers (empty: any tier)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TemplateIn:
        if self.kind == "amount_off" and self.amount_off_minor is None:
            raise ValueError("an amount_off coupon needs amount_off_minor")
        if self.kind == "percent_off" and self.percent_off is None:
            raise ValueError("a percent_off coupon needs percent_off")
        if self.kind == "free_gift" and not (self.gift_sku and self.gift_name):
            raise ValueError("a free_gift coupon needs gift_sku and gift_name")
        for stamp in (self.valid_from, self.valid_to):
            if stamp is not None and stamp.tzinfo is None:
                raise ValueError("validity times need a time zone")
        if self.valid_from and self.valid_to and self.valid_from >= self.valid_to:
            raise ValueError("valid_from must be before valid_to")
        return self


class TemplatePatch(Patch):
    """What may change after codes exist: words, limits, the end date, automation, status.
    The discount itself is fixed once issued (members hold coupons that promise it)."""

    clearable = frozenset({"description", "total_limit", "per_member_limit", "valid_to"})

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    total_limit: int | None = Field(default=None, ge=0, le=10**9)
    per_member_limit: int | None = Field(default=None, ge=1, le=10_000)
    valid_to: datetime | None = None
    auto_issue_on: list[AutoIssue] | None = None
    status: Literal["active", "archived"] | None = None


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str | None
    kind: str
    amount_off_minor: int | None
    percent_off: int | None
    max_discount_minor: int | None
    gift_sku: str | None
    gift_name: str | None
    min_spend_minor: int
    categories: list[str]
    skus: list[str]
    store_ids: list[int]
    valid_from: datetime | None
    valid_to: datetime | None
    valid_days: int | None
    per_member_limit: int | None
    total_limit: int | None
    issued_count: int
    stackable: bool
    with_member_discounts: bool
    auto_issue_on: list[str]
    tier_codes: list[str]
    status: str
    created_at: datetime
    updated_at: datetime


class IssueIn(BaseModel):
    member_id: int


class BulkIssueIn(BaseModel):
    member_ids: list[int] = Field(min_length=1, max_length=200_000)


class BulkIssueOut(BaseModel):
    issued: int
    skipped: int


class CodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    template_id: int
    code: str
    member_id: int | None
    status: str
    source: str
    issued_at: datetime
    valid_from: datetime | None
    expires_at: datetime | None
    redeemed_at: datetime | None
    redeemed_order_id: int | None
    voided_at: datetime | None
    void_reason: str | None


class VoidIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class ValidateIn(BaseModel):
    codes: list[str] = Field(min_length=1, max_length=20)
    member_id: int | None = None
    store_id: int | None = None
    lines: list[CartLineIn] = Field(min_length=1, max_length=500)


class BenefitOut(BaseModel):
    kind: str
    label: str
    code: str | None
    amount_minor: int
    line_no: int | None
    gift_sku: str | None
    gift_name: str | None
    gift_quantity: int


class ValidateOut(BaseModel):
    valid: bool
    benefits: list[BenefitOut]
    discount_minor: int


# Points mall ---------------------------------------------------------------------------------


class MallItemIn(BaseModel):
    kind: Literal["gift", "voucher", "product"]
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    sku: str | None = Field(default=None, max_length=80)
    template_id: int | None = None
    points_price: StrictInt = Field(ge=1, le=10**9)
    stock: int | None = Field(default=None, ge=0, le=10**9)
    per_member_limit: int | None = Field(default=None, ge=1, le=10_000)
    active_from: datetime | None = None
    active_to: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MallItemIn:
        if self.kind == "voucher" and self.template_id is None:
            raise ValueError("a voucher names the coupon template it issues (template_id)")
        if self.kind != "voucher" and self.template_id is not None:
            raise ValueError("only vouchers issue coupons")
        return self


class MallItemPatch(Patch):
    clearable = frozenset({"description", "stock", "per_member_limit", "active_from", "active_to"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    points_price: StrictInt | None = Field(default=None, ge=1, le=10**9)
    stock: int | None = Field(default=None, ge=0, le=10**9)
    per_member_limit: int | None = Field(default=None, ge=1, le=10_000)
    active_from: datetime | None = None
    active_to: datetime | None = None
    status: Literal["active", "archived"] | None = None


class MallItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    name: str
    description: str | None
    sku: str | None
    template_id: int | None
    points_price: int
    stock: int | None
    per_member_limit: int | None
    active_from: datetime | None
    active_to: datetime | None
    status: str


class MallRedeemIn(BaseModel):
    member_id: int
    item_id: int
    quantity: StrictInt = Field(default=1, ge=1, le=100)


class MallOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    member_id: int
    item_id: int
    quantity: int
    points: int
    status: str
    spend_entry_id: int | None
    refund_entry_id: int | None
    coupon_code_id: int | None
    note: str | None
    created_at: datetime
    updated_at: datetime
    replayed: bool = False


class MallOrderPatch(BaseModel):
    status: Literal["ready", "collected", "shipped", "delivered", "cancelled"]
    note: str | None = Field(default=None, max_length=500)


# Gift with purchase --------------------------------------------------------------------------


class GiftRuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    min_spend_minor: StrictInt | None = Field(default=None, ge=1, le=10**11)
    categories: list[str] = Field(default_factory=list, max_length=200)
    buy_sku: str | None = Field(default=None, max_length=80)
    gift_sku: str = Field(min_length=1, max_length=80)
    gift_name: str = Field(min_length=1, max_length=200)
    gift_quantity: StrictInt = Field(default=1, ge=1, le=100)
    stock: int | None = Field(default=None, ge=0, le=10**9)
    active_from: datetime | None = None
    active_to: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GiftRuleIn:
        if (self.min_spend_minor is None) == (self.buy_sku is None):
            raise ValueError("a gift rule is either 'spend min_spend_minor' or 'buy buy_sku'")
        return self


class GiftRulePatch(Patch):
    clearable = frozenset({"stock", "active_to"})

    name: str | None = Field(default=None, min_length=1, max_length=120)
    stock: int | None = Field(default=None, ge=0, le=10**9)
    active_to: datetime | None = None
    status: Literal["active", "archived"] | None = None


class GiftRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
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
    status: str
