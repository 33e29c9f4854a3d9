"""Webhook tables: endpoints a merchant registers, and one delivery per (event, endpoint)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class WebhookEndpoint(MerchantScoped, Base):
    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(300), nullable=True)
    event_types: Mapped[list[str]] = mapped_column(JsonDoc)
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(MerchantScoped, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        merchant_fk("endpoint_id", "webhook_endpoints", ondelete="CASCADE"),
        merchant_fk("event_id", "outbox_events", ondelete="CASCADE"),
        merchant_fk("replay_of_id", "webhook_deliveries", ondelete="SET NULL"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_merchant", "merchant_id", "id"),
        UniqueConstraint("event_id", "endpoint_id", "replay_of_id", "merchant_id"),
    )

    endpoint_id: Mapped[int] = mapped_column(BigId)
    event_id: Mapped[int] = mapped_column(BigId)
    replay_of_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # The Standard Webhooks message id: stable across retries so receivers can de-duplicate.
    message_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookAttempt(MerchantScoped, Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (
        merchant_fk("delivery_id", "webhook_deliveries", ondelete="CASCADE"),
        Index("ix_webhook_attempts_delivery", "delivery_id"),
    )

    delivery_id: Mapped[int] = mapped_column(BigId)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JsonDoc, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
