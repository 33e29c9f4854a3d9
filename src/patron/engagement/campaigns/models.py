"""Campaign tables: the campaign and its snapshot of recipients (treated or held out)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # launched for a later time; the audience is taken at that time
    SENDING = "sending"  # the pacing task releases batches of the treated group
    PAUSED = "paused"  # nothing more is released until resumed
    SENT = "sent"  # every treated recipient was released to the outbox
    CANCELLED = "cancelled"


class RecipientState(StrEnum):
    PENDING = "pending"  # treated, not yet released to the outbox
    RELEASED = "released"  # its message (and grant) is in the outbox
    HOLDOUT = "holdout"  # held out: receives nothing, compared in the results
    CANCELLED = "cancelled"  # the campaign was cancelled before its release


class Campaign(MerchantScoped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        merchant_fk("segment_id", "segments", ondelete="SET NULL"),
        merchant_fk("template_id", "message_templates"),
        merchant_fk("coupon_template_id", "coupon_templates", ondelete="SET NULL"),
        Index("ix_campaigns_due", "status", "next_release_at"),
    )

    name: Mapped[str] = mapped_column(String(120))
    segment_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # A fixed audience instead of a segment (member ids), e.g. a list from a spreadsheet.
    member_ids: Mapped[list[int] | None] = mapped_column(JsonDoc, nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    template_id: Mapped[int] = mapped_column(BigId)
    topic: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16), default="marketing")
    coupon_template_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    points: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Share held out, in basis points (0–5000 = 0–50%).
    holdout_bp: Mapped[int] = mapped_column(Integer, default=0)
    # Messages released per minute; None = the channel's default rate.
    rate_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    results_window_days: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT.value)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_release_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    audience_count: Mapped[int] = mapped_column(Integer, default=0)
    treated_count: Mapped[int] = mapped_column(Integer, default=0)
    holdout_count: Mapped[int] = mapped_column(Integer, default=0)
    released_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CampaignRecipient(MerchantScoped, Base):
    """One member of the audience as it was at launch, with the recorded holdout draw."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        merchant_fk("campaign_id", "campaigns", ondelete="CASCADE"),
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("campaign_id", "member_id", "merchant_id"),
        Index("ix_campaign_recipients_state", "campaign_id", "state", "member_id"),
    )

    campaign_id: Mapped[int] = mapped_column(BigId)
    member_id: Mapped[int] = mapped_column(BigId)
    # The deterministic draw in [0, 10000): held out when draw < holdout_bp.
    draw: Mapped[int] = mapped_column(Integer)
    grp: Mapped[str] = mapped_column(String(8))  # treated | holdout
    state: Mapped[str] = mapped_column(String(16))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
