"""API shapes of the ledger."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from patron.ledger.models import Asset


class BalancesOut(BaseModel):
    member_id: int
    balances: dict[str, int] = Field(description="every asset's balance, in whole units")
    points_spendable: int
    points_pending: int = Field(description="earned, still inside the return window")
    points_past_expiry: int = Field(description="past their date, expiring at the next run")


class StatementLineOut(BaseModel):
    entry_id: int
    occurred_at: datetime
    reason_code: str
    description: str
    amounts: dict[str, int] = Field(description="change per asset for this member")
    balances_after: dict[str, int] = Field(description="balance per asset after this entry")
    reverses_entry_id: int | None = None
    corrects_entry_id: int | None = None


class PointsLotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entry_id: int
    amount: int
    remaining: int
    reversed: int
    earned_at: datetime
    available_at: datetime
    released_at: datetime | None
    expires_at: datetime | None


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset: Asset = Field(description="points, growth, stored_principal, stored_bonus, commission")
    amount: StrictInt = Field(description="signed whole units: +50 gives, -50 takes")
    reason_code: str = Field(min_length=1, max_length=64, examples=["goodwill"])
    description: str = Field(
        min_length=1, max_length=500, description="what the member reads on the statement"
    )
    note: str | None = Field(default=None, max_length=2000, description="staff only")
    expires_at: datetime | None = Field(default=None, description="for points given: expiry")


class PostingOut(BaseModel):
    account_id: int
    member_id: int | None
    code: str
    asset: str
    amount: int
    balance_after: int


class EntryOut(BaseModel):
    id: int
    reason_code: str
    description: str
    note: str | None
    actor: str
    object_type: str | None
    object_id: str | None
    rule_version: str | None
    reverses_entry_id: int | None
    corrects_entry_id: int | None
    occurred_at: datetime
    postings: list[PostingOut]


class LiabilityOut(BaseModel):
    by_asset: dict[str, int] = Field(description="sum of positive member balances per asset")
    members_in_debt: dict[str, int] = Field(description="sum of negative member balances")
    points: int = Field(description="points owed, available and pending")
    stored_value: int = Field(description="stored value owed, principal and bonus (minor units)")
