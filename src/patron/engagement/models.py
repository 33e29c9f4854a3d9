"""Engagement tables: channel settings, templates, the message outbox, its events, the inbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.request_id import current_request_id
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class MessageKind(StrEnum):
    """Which guards a message meets (docs/engagement-channels.md, ADR 0412).

    transactional: the member's own order, account or sign-in (receipts, order and delivery
    updates, refunds, sign-in links) — never capped. care: looking after the relationship with
    no offer in it (after-sales, welcome, tier-up, points expiring) — no opt-in needed, its own
    cap. marketing: anything that sells (campaigns, promotions, festival and birthday offers,
    win-back) — opt-in, the marketing cap."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"
    CARE = "care"


class MessageStatus(StrEnum):
    """The outbox states; see docs/engagement-channels.md for the transitions."""

    QUEUED = "queued"  # due at not_before (new, held by quiet hours, or waiting for a retry)
    SENDING = "sending"  # claimed and being handed to the provider under a lease
    SENT = "sent"  # the provider accepted it (provider_message_id recorded)
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # the provider refused it for good, or reported it undelivered
    BOUNCED = "bounced"
    SKIPPED = "skipped"  # a guard stopped it; status_reason says which
    UNKNOWN = "unknown"  # a timeout or a lost worker: maybe sent; reconciled later
    DEAD = "dead"  # retries exhausted (the dead-letter list)


TERMINAL = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.FAILED,
        MessageStatus.BOUNCED,
        MessageStatus.SKIPPED,
        MessageStatus.DEAD,
    }
)


class ChannelSetting(MerchantScoped, Base):
    """One merchant's credentials for one channel. ``credentials`` holds secrets: never logged,
    never returned by the API (only which keys are set)."""

    __tablename__ = "channel_settings"
    __table_args__ = (UniqueConstraint("merchant_id", "channel"),)

    channel: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    credentials: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EngagementPolicy(MerchantScoped, Base):
    """Per-merchant frequency cap and quiet hours (defaults apply when there is no row)."""

    __tablename__ = "engagement_policies"
    __table_args__ = (UniqueConstraint("merchant_id"),)

    cap_messages: Mapped[int] = mapped_column(Integer, default=2)
    cap_window_days: Mapped[int] = mapped_column(Integer, default=7)
    # Care messages (after-sales, tier-up, points reminders…) have their own cap in the same
    # window, so a promotion never crowds out a care message nor the reverse (ADR 0412).
    care_cap_messages: Mapped[int] = mapped_column(Integer, default=2)
    quiet_hours_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="09:00")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageTemplate(MerchantScoped, Base):
    """A template for one channel; ``variants`` maps a locale (``en``, ``zh_Hans``) to fields."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(16))
    variants: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Message(MerchantScoped, Base):
    """One message in the outbox. Written in the cause's transaction by ``enqueue_message``."""

    __tablename__ = "messages"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("template_id", "message_templates", ondelete="SET NULL"),
        UniqueConstraint("merchant_id", "dedupe_key"),
        Index("ix_messages_due", "status", "not_before"),
        Index("ix_messages_member", "merchant_id", "member_id", "id"),
        Index("ix_messages_cap", "member_id", "kind", "dispatched_at"),
        Index("ix_messages_provider", "channel", "provider_message_id"),
        Index("ix_messages_list", "merchant_id", "status", "id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    template_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    content: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    topic: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    context: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED.value)
    status_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by a manual retry of a dead message, so the provider sees a fresh idempotency key.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rendered: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The request whose work queued it (X-Request-ID), directly or through an outbox event the
    # worker handled: the dispatcher's log lines about the message carry it (ADR 0042).
    request_id: Mapped[str | None] = mapped_column(
        String(128), nullable=True, default=current_request_id
    )


class MessageEvent(MerchantScoped, Base):
    """What happened to a message: skipped (and why), held, sent, delivered, opened, clicked…"""

    __tablename__ = "message_events"
    __table_args__ = (
        merchant_fk("message_id", "messages", ondelete="CASCADE"),
        Index("ix_message_events_message", "message_id", "id"),
    )

    message_id: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(24))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboxItem(MerchantScoped, Base):
    """A message delivered to the member portal's inbox (the ``in_app`` channel)."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("message_id", "messages", ondelete="CASCADE"),
        UniqueConstraint("message_id", "merchant_id"),
        Index("ix_inbox_items_member", "merchant_id", "member_id", "id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    message_id: Mapped[int] = mapped_column(BigId)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
