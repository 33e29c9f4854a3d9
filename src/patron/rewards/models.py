"""Check-ins (one row per member per local day) and actions (one row per event id)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class MemberCheckIn(MerchantScoped, Base):
    """A member's check-in on one day of the merchant's calendar. The unique key is what makes
    a second check-in that day (or ten at once) refused: only one row is ever inserted."""

    __tablename__ = "member_check_ins"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("member_id", "local_day", "merchant_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    local_day: Mapped[date] = mapped_column(Date)
    streak: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)
    growth: Mapped[int] = mapped_column(Integer, default=0)
    coupon_code_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    rule_version: Mapped[int] = mapped_column(Integer)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))


class MemberAction(MerchantScoped, Base):
    """One event of a named action (``review_written``…) for a member, earned or not: the
    event id is unique per merchant, so the same event never earns twice."""

    __tablename__ = "member_actions"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("event_id", "merchant_id"),
        Index("ix_member_actions_member", "merchant_id", "member_id", "action", "local_day"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(200))
    local_day: Mapped[date] = mapped_column(Date)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    points: Mapped[int] = mapped_column(Integer, default=0)
    growth: Mapped[int] = mapped_column(Integer, default=0)
    earned: Mapped[bool] = mapped_column(Boolean, default=False)
    refusal: Mapped[str | None] = mapped_column(String(40), nullable=True)
    entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    rule_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
