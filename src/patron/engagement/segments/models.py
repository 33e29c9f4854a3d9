"""Segment tables: definitions and their materialised members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class Segment(MerchantScoped, Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | archived
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    # True when a rule depends on time passing ("no order in 90 days"): refreshed on schedule.
    time_relative: Mapped[bool] = mapped_column(default=False)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SegmentMember(MerchantScoped, Base):
    __tablename__ = "segment_members"
    __table_args__ = (
        merchant_fk("segment_id", "segments", ondelete="CASCADE"),
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("segment_id", "member_id", "merchant_id"),
        Index("ix_segment_members_member", "member_id"),
    )

    segment_id: Mapped[int] = mapped_column(BigId)
    member_id: Mapped[int] = mapped_column(BigId)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
