"""API shapes of campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from patron.core.patch import Patch


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    segment_id: int | None = None
    member_ids: list[int] | None = Field(default=None, max_length=100000)
    channel: str
    template_id: int
    # One of the merchant's consent topics (GET /api/v1/consent-topics); "marketing" is the
    # general one that imports record.
    topic: str = Field(default="marketing", min_length=1, max_length=40)
    kind: str = "marketing"
    coupon_template_id: int | None = None
    points: int | None = Field(default=None, gt=0)
    holdout_percent: float = Field(default=0, ge=0, le=50)
    rate_per_minute: int | None = Field(default=None, gt=0, le=100000)
    results_window_days: int = Field(default=30, ge=1, le=365)


class CampaignPatch(Patch):
    model_config = ConfigDict(extra="forbid")
    clearable = frozenset(
        {"segment_id", "member_ids", "coupon_template_id", "points", "rate_per_minute"}
    )

    name: str | None = Field(default=None, min_length=1, max_length=120)
    segment_id: int | None = None
    member_ids: list[int] | None = None
    template_id: int | None = None
    topic: str | None = None
    coupon_template_id: int | None = None
    points: int | None = Field(default=None, gt=0)
    holdout_percent: float | None = Field(default=None, ge=0, le=50)
    rate_per_minute: int | None = Field(default=None, gt=0, le=100000)
    results_window_days: int | None = Field(default=None, ge=1, le=365)


class LaunchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime | None = None  # None = now


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    segment_id: int | None
    channel: str
    template_id: int
    topic: str
    kind: str
    coupon_template_id: int | None
    points: int | None
    holdout_bp: int
    rate_per_minute: int | None
    results_window_days: int
    status: str
    status_reason: str | None
    scheduled_at: datetime | None
    launched_at: datetime | None
    finished_at: datetime | None
    audience_count: int
    treated_count: int
    holdout_count: int
    released_count: int
    created_at: datetime


class RecipientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    draw: int
    grp: str
    state: str
    released_at: datetime | None
    detail: dict[str, Any] | None


class DifferenceOut(BaseModel):
    treated: float
    holdout: float
    difference: float
    low: float | None
    high: float | None


class GroupOut(BaseModel):
    members: int
    buyers: int
    revenue_minor: int


class MessageCountsOut(BaseModel):
    """What happened to the messages (docs/api.md, "Message counts")."""

    queued: int
    sent: int
    delivered: int
    skipped: int
    failed: int
    unknown: int
    total: int
    held: int = Field(description="of the queued, waiting for quiet hours to end")
    outcome: str = Field(description="none | waiting | nothing_sent | went")
    skipped_by_reason: dict[str, int]
    failed_by_reason: dict[str, int]


class CampaignStatsOut(BaseModel):
    campaign_id: int
    status: str
    audience: int
    treated: int
    holdout: int
    released: int
    messages: MessageCountsOut


class ChannelReachOut(BaseModel):
    channel: str
    audience: int
    reached: int
    held_for_quiet_hours: int
    not_reached: dict[str, int] = Field(
        description="consent, frequency_cap, channel_not_configured, no_address"
    )


class ReachOut(BaseModel):
    """Who a message would reach if it went now, per channel (the dispatcher's own checks)."""

    topic: str
    kind: str
    audience: int = Field(description="members who would be sent to (holdout left out)")
    channels: list[ChannelReachOut]


class ResultsOut(BaseModel):
    campaign_id: int
    messages: MessageCountsOut | None = None
    window_start: datetime | None
    window_end: datetime | None
    treated: GroupOut
    holdout: GroupOut
    repurchase_rate: DifferenceOut | None
    revenue_per_member: DifferenceOut | None
