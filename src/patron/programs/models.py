"""Program tables: versioned rules, member tiers and their history, top-ups, order payments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class ProgramRule(MerchantScoped, Base):
    """One version of one program setting; the rule in force at t is the latest with
    ``effective_from <= t`` (ADR 0350). Versions are never edited."""

    __tablename__ = "program_rules"
    __table_args__ = (
        UniqueConstraint("merchant_id", "kind", "version"),
        Index("ix_program_rules_in_force", "merchant_id", "kind", "effective_from"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    config: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))


class MemberTier(MerchantScoped, Base):
    """A member's current tier. ``floor_code`` is the tier kept until the next evaluation: a
    refund can take a member back down to it, never below (ADR 0352)."""

    __tablename__ = "member_tiers"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "member_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    tier_code: Mapped[str] = mapped_column(String(40))
    floor_code: Mapped[str] = mapped_column(String(40))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rule_version: Mapped[int] = mapped_column(Integer)


class TierChange(MerchantScoped, Base):
    __tablename__ = "tier_changes"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        Index("ix_tier_changes_member", "merchant_id", "member_id", "id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    from_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    to_code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(200))
    growth: Mapped[int] = mapped_column(BigInteger)
    rule_version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TopUp(MerchantScoped, Base):
    """A stored value top-up: principal paid, bonus given, and what its refund returned."""

    __tablename__ = "top_ups"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("entry_id", "journal_entries"),
        merchant_fk("refund_entry_id", "journal_entries"),
        UniqueConstraint("merchant_id", "idempotency_key"),
        Index("ix_top_ups_member", "merchant_id", "member_id", "id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    bonus_minor: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int] = mapped_column(BigId)
    rule_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="completed")
    refund_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    refunded_cash_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OrderPayment(MerchantScoped, Base):
    """How a member's order was paid and what it earned, and how much of each a refund has
    already given back or taken back (so a partial refund never repeats an earlier one)."""

    __tablename__ = "order_payments"
    __table_args__ = (
        merchant_fk("order_id", "orders", ondelete="CASCADE"),
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("earn_entry_id", "journal_entries"),
        merchant_fk("spend_entry_id", "journal_entries"),
        merchant_fk("value_entry_id", "journal_entries"),
        UniqueConstraint("order_id", "merchant_id"),
        Index("ix_order_payments_member_day", "merchant_id", "member_id", "local_date"),
        CheckConstraint(
            "cash_minor + points_value_minor + stored_principal_minor + stored_bonus_minor"
            " = total_minor",
            name="payments_sum",
        ),
    )

    order_id: Mapped[int] = mapped_column(BigId)
    member_id: Mapped[int] = mapped_column(BigId)
    local_date: Mapped[date] = mapped_column(Date)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    cash_minor: Mapped[int] = mapped_column(BigInteger)
    points_redeemed: Mapped[int] = mapped_column(BigInteger, default=0)
    points_value_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    stored_principal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    stored_bonus_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    points_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    growth_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    # {line_no: [points, growth]} earned by each line, for refunds by line.
    line_earnings: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    earn_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    spend_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    value_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    rule_versions: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    # What refunds have already reversed (earnings) or given back (payments).
    points_taken_back: Mapped[int] = mapped_column(BigInteger, default=0)
    points_forgiven: Mapped[int] = mapped_column(BigInteger, default=0)
    growth_taken_back: Mapped[int] = mapped_column(BigInteger, default=0)
    points_returned: Mapped[int] = mapped_column(BigInteger, default=0)
    principal_returned_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    bonus_returned_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
