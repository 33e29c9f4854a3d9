"""API shapes of program settings, tiers and stored value."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class RuleIn(BaseModel):
    config: dict[str, Any]
    effective_from: datetime | None = Field(default=None, description="default: now")


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: str
    version: int
    effective_from: datetime
    config: dict[str, Any]
    created_at: datetime
    actor: str


class TierChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    from_code: str | None
    to_code: str
    reason: str
    growth: int
    rule_version: int
    changed_at: datetime


class TierBenefitsOut(BaseModel):
    """What the tier gives its members (the tier's settings)."""

    discount_percent: Decimal
    points_multiplier: Decimal
    birthday_gift: bool
    free_shipping: bool


class MemberTierOut(BaseModel):
    member_id: int
    tier_code: str | None
    tier_name: str | None
    benefits: TierBenefitsOut | None = None
    kept_until_evaluation: str | None
    since: datetime | None
    growth_in_window: int
    next_tier_code: str | None
    growth_to_next: int | None
    history: list[TierChangeOut]


class TopUpIn(BaseModel):
    amount_minor: StrictInt = Field(ge=1, le=10**10)


class TopUpOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    member_id: int
    principal_minor: int
    bonus_minor: int
    status: str
    refunded_cash_minor: int
    entry_id: int
    refund_entry_id: int | None
    created_at: datetime
    refunded_at: datetime | None


class StoredValueLineOut(BaseModel):
    entry_id: int
    occurred_at: datetime
    reason_code: str
    description: str
    amounts: dict[str, int]
    balances_after: dict[str, int]


class StoredValueStatementOut(BaseModel):
    principal_minor: int
    bonus_minor: int
    lines: list[StoredValueLineOut]
    next_cursor: int | None
