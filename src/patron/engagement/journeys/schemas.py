"""API shapes of journeys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from patron.core.patch import Patch
from patron.engagement.campaigns.schemas import ChannelReachOut, MessageCountsOut


class JourneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    trigger: dict[str, Any]
    steps: list[dict[str, Any]] = Field(min_length=1, max_length=50)
    exit_rule: dict[str, Any] | None = None
    reentry: str = "per_key"
    reentry_days: int | None = Field(default=None, gt=0)
    send_window_hours: int = Field(default=12, ge=1, le=336)


class FromLibraryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    name: str | None = Field(default=None, max_length=120)
    params: dict[str, Any] = Field(default_factory=dict)


class JourneyPatch(Patch):
    model_config = ConfigDict(extra="forbid")
    clearable = frozenset({"exit_rule", "reentry_days"})

    name: str | None = Field(default=None, min_length=1, max_length=120)
    trigger: dict[str, Any] | None = None
    steps: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=50)
    exit_rule: dict[str, Any] | None = None
    reentry: str | None = None
    reentry_days: int | None = Field(default=None, gt=0)
    send_window_hours: int | None = Field(default=None, ge=1, le=336)


class SwitchIn(BaseModel):
    on: bool


class PromoteIn(BaseModel):
    product_id: int


class JourneyOut(BaseModel):
    id: int
    name: str
    library_key: str | None
    status: str
    version: int
    reentry: str
    reentry_days: int | None
    send_window_hours: int
    trigger: dict[str, Any]
    steps: list[dict[str, Any]]
    exit_rule: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class EnrolmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    journey_id: int
    journey_version: int
    member_id: int
    enrolment_key: str
    status: str
    step_id: str | None
    next_run_at: datetime | None
    attempts: int
    last_error: str | None
    history: list[dict[str, Any]]
    entered_at: datetime
    finished_at: datetime | None


class LibraryOut(BaseModel):
    key: str
    name: str
    description: str


class StatsOut(BaseModel):
    journey_id: int
    enrolments: dict[str, int]
    waiting_at: dict[str, int]
    steps: dict[str, dict[str, int]]
    reasons: dict[str, dict[str, int]] = Field(default_factory=dict)
    messages: dict[str, MessageCountsOut] = Field(
        default_factory=dict,
        description="send step id → its messages by outcome (docs/api.md, Message counts)",
    )


class StepReachOut(ChannelReachOut):
    topic: str
    kind: str


class JourneyReachOut(BaseModel):
    """Who each send step would reach if it ran now (the dispatcher's own checks)."""

    journey_id: int
    audience: str = Field(description="segment (a segment trigger's members) or members (all)")
    members: int
    steps: dict[str, StepReachOut]
