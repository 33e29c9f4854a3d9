"""API shapes of check-ins and actions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from patron.programs.config import ACTION_NAME


class CheckInOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    member_id: int
    local_day: date = Field(description="the day of the merchant's calendar")
    streak: int = Field(description="days in a row ending this day, this one included")
    points: int
    growth: int
    coupon_code_ids: list[int]
    entry_id: int | None = Field(description="the ledger entry of the rewards (none: nothing)")
    rule_version: int
    checked_in_at: datetime


class MilestoneOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    day: int
    points: int
    growth: int
    coupon_template_id: int | None


class DayOut(BaseModel):
    day: date
    checked_in: bool


class CheckInStateOut(BaseModel):
    offered: bool = Field(description="false: the merchant has no daily check-in now")
    today: date
    checked_in_today: bool
    streak: int = Field(description="today's streak, else yesterday's (still alive), else 0")
    today_points: int = Field(description="earned today, or what checking in today earns")
    next_milestone: MilestoneOut | None
    days_to_next_milestone: int | None
    last_7_days: list[DayOut]


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(pattern=ACTION_NAME, description="one of the merchant's action names")
    event_id: str = Field(
        min_length=1,
        max_length=200,
        description="unique per merchant: the same id never earns twice (a retry answers the "
        "first result, 200 with `Idempotent-Replayed: true`)",
    )
    occurred_at: datetime | None = Field(default=None, description="default: now")
    details: dict[str, Any] | None = Field(default=None, description="kept with the event")


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    member_id: int
    action: str
    event_id: str
    local_day: date
    occurred_at: datetime
    recorded_at: datetime
    earned: bool
    refusal: str | None = Field(
        description="why it earned nothing: cap_per_day, cap_per_week, cap_per_month, cap_ever"
    )
    points: int
    growth: int
    entry_id: int | None
    rule_version: int | None
