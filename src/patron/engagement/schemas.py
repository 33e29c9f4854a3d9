"""API shapes for channel settings, templates, policy and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChannelSettingIn(BaseModel):
    enabled: bool = True
    base_url: str | None = Field(default=None, max_length=500)
    credentials: dict[str, Any] = Field(
        default_factory=dict, description="provider settings and secrets (never returned)"
    )


class ChannelSettingOut(BaseModel):
    channel: str
    enabled: bool
    base_url: str | None
    credential_keys: list[str] = Field(description="which settings are stored (values hidden)")
    updated_at: datetime


class PolicyIn(BaseModel):
    cap_messages: int = Field(2, ge=0, le=1000, description="marketing messages per window")
    cap_window_days: int = Field(7, ge=1, le=365)
    care_cap_messages: int = Field(
        2, ge=0, le=1000, description="care messages per window (transactional: never capped)"
    )
    quiet_hours_enabled: bool = True
    quiet_start: str = Field("21:00", pattern=r"^\d{2}:\d{2}$")
    quiet_end: str = Field("09:00", pattern=r"^\d{2}:\d{2}$")


class PolicyOut(PolicyIn):
    pass


class MessageTemplateIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    channel: str
    variants: dict[str, dict[str, Any]] = Field(
        description="locale (en, zh_Hans) → fields for the channel"
    )


class MessageTemplatePatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    variants: dict[str, dict[str, Any]] | None = None


class MessageTemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    channel: str
    variants: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class PreviewIn(BaseModel):
    member_id: int
    locale: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class TemplatePreviewOut(BaseModel):
    locale: str
    rendered: dict[str, Any]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    channel: str
    template_id: int | None
    topic: str
    kind: str
    dedupe_key: str
    status: str
    status_reason: str | None
    not_before: datetime
    attempts: int
    generation: int
    locale: str | None
    provider_message_id: str | None
    last_error: str | None
    created_at: datetime
    dispatched_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None


class MessageEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    type: str
    detail: dict[str, Any]
    occurred_at: datetime


class MessageDetail(MessageOut):
    rendered: dict[str, Any] | None
    events: list[MessageEventOut]


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: int | None = None
