"""Reviews of bought products, their photos, after-sales cases and their timelines, and each
merchant's service settings (business hours, targets, the low-rating threshold)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class CaseKind(StrEnum):
    COMPLAINT = "complaint"
    RETURN = "return"
    QUALITY = "quality"
    QUESTION = "question"


class CaseStatus(StrEnum):
    OPEN = "open"
    WAITING = "waiting"  # waiting on the member
    RESOLVED = "resolved"
    CLOSED = "closed"


class CasePriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class CaseSource(StrEnum):
    MEMBER = "member"  # the member, in the portal
    STAFF = "staff"  # staff, in the dashboard
    PHONE = "phone"  # staff, logging a phone call
    REVIEW = "review"  # opened by a low rating


class Review(MerchantScoped, Base):
    """A member's review of one line of one of their own orders (verified purchase)."""

    __tablename__ = "reviews"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("order_id", "orders", ondelete="CASCADE"),
        merchant_fk("order_line_id", "order_lines", ondelete="CASCADE"),
        UniqueConstraint("order_line_id", "merchant_id"),
        Index("ix_reviews_member", "merchant_id", "member_id"),
        Index("ix_reviews_sku", "merchant_id", "sku"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    order_id: Mapped[int] = mapped_column(BigId)
    order_line_id: Mapped[int] = mapped_column(BigId)
    sku: Mapped[str | None] = mapped_column(String(80), nullable=True)
    product_name: Mapped[str] = mapped_column(String(300))
    rating: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The merchant's public reply.
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    replied_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Hidden from the portal: who, when and why (audited).
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hidden_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    hidden_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ReviewPhoto(MerchantScoped, Base):
    """A photo of a review, re-encoded without its metadata, stored under a generated key."""

    __tablename__ = "review_photos"
    __table_args__ = (
        merchant_fk("review_id", "reviews", ondelete="CASCADE"),
        UniqueConstraint("storage_key", "merchant_id"),
        Index("ix_review_photos_review", "merchant_id", "review_id"),
    )

    review_id: Mapped[int] = mapped_column(BigId)
    storage_key: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServiceCase(MerchantScoped, Base):
    """An after-sales case: a member's problem or question, linked to an order and its lines."""

    __tablename__ = "service_cases"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("order_id", "orders", ondelete="SET NULL"),
        merchant_fk("review_id", "reviews", ondelete="SET NULL"),
        merchant_fk("assignee_id", "staff_users", ondelete="SET NULL"),
        Index("ix_service_cases_status", "merchant_id", "status", "opened_at"),
        Index("ix_service_cases_member", "merchant_id", "member_id"),
        CheckConstraint(
            "satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="satisfaction_range"
        ),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    order_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # The order's lines the case is about (ids of order_lines of ``order_id``).
    line_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    review_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(200))
    assignee_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    opened_by: Mapped[str] = mapped_column(String(80))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    satisfaction: Mapped[int | None] = mapped_column(Integer, nullable=True)
    satisfaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CaseEvent(MerchantScoped, Base):
    """One line of a case's timeline: opened, a note (staff only), a reply to the member, the
    member's message, a change of status/assignee/priority, a resolution action (refund,
    points, coupon, stored value: who, why, and what it posted), the satisfaction answer."""

    __tablename__ = "case_events"
    __table_args__ = (
        merchant_fk("case_id", "service_cases", ondelete="CASCADE"),
        UniqueConstraint("dedupe_key", "merchant_id"),
        Index("ix_case_events_case", "merchant_id", "case_id", "id"),
    )

    case_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    # Set for actions: the same action (a form sent twice) is recorded once.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServiceSettings(MerchantScoped, Base):
    """A merchant's service settings; a merchant without a row has the defaults
    (:data:`patron.voice.hours.DEFAULT_SETTINGS`)."""

    __tablename__ = "service_settings"
    __table_args__ = (UniqueConstraint("merchant_id"),)

    settings: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
