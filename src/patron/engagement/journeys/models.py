"""Journey tables: the journey, its immutable versions, and each member's durable enrolment."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class EnrolmentStatus(StrEnum):
    ACTIVE = "active"  # has a next step due at next_run_at
    COMPLETED = "completed"  # ran out of steps
    EXITED = "exited"  # the exit condition held, or an exit step ran
    FAILED = "failed"  # a step kept failing (max attempts); last_error says why


class Journey(MerchantScoped, Base):
    __tablename__ = "journeys"
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    library_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(8), default="off")  # on | off
    version: Mapped[int] = mapped_column(Integer, default=1)  # the current JourneyVersion
    # once | per_key | after_days (see docs/campaigns-journeys.md)
    reentry: Mapped[str] = mapped_column(String(16), default="per_key")
    reentry_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Sends due longer ago than this are skipped ("missed window"), never sent in a burst.
    send_window_hours: Mapped[int] = mapped_column(Integer, default=12)
    # Date triggers (birthday, festivals) are evaluated when this is older than the schedule period.
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JourneyVersion(MerchantScoped, Base):
    """Trigger, steps and exit rule as they were at one version; enrolments keep their version,
    so editing a journey never moves a member already inside it onto steps that do not exist."""

    __tablename__ = "journey_versions"
    __table_args__ = (
        merchant_fk("journey_id", "journeys", ondelete="CASCADE"),
        UniqueConstraint("journey_id", "version", "merchant_id"),
    )

    journey_id: Mapped[int] = mapped_column(BigId)
    version: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    exit_rule: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JourneyEnrolment(MerchantScoped, Base):
    """One member's place in one journey. Exactly one step runs per transaction, which also
    moves ``step_id`` and ``next_run_at`` on, so a crash re-runs the same step at most."""

    __tablename__ = "journey_enrolments"
    __table_args__ = (
        merchant_fk("journey_id", "journeys", ondelete="CASCADE"),
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("journey_id", "enrolment_key", "merchant_id"),
        Index("ix_journey_enrolments_due", "status", "next_run_at"),
        Index("ix_journey_enrolments_member", "merchant_id", "member_id", "id"),
        Index("ix_journey_enrolments_journey", "journey_id", "member_id", "entered_at"),
    )

    journey_id: Mapped[int] = mapped_column(BigId)
    journey_version: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigId)
    enrolment_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=EnrolmentStatus.ACTIVE.value)
    step_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What entered the member (the trigger event's payload): templates and branches read it.
    context: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
