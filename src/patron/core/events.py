"""Domain events, written to the outbox in the same transaction as their cause.

The worker reads the outbox after commit: webhooks fan out from it today; messages and journey
steps ride on it later. An event is never lost (it commits with its cause) and never fanned out
twice (``fanned_out_at`` is set in the same transaction as the deliveries it creates).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from patron.core.clock import utcnow
from patron.core.db import Base, BigId, JsonDoc, UTCDateTime


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_pending", "fanned_out_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(80))
    subject_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def emit(
    session: Session,
    merchant_id: int,
    type_: str,
    payload: dict[str, Any],
    subject_id: int | None = None,
) -> OutboxEvent:
    """Record a domain event; it commits (or rolls back) with the caller's transaction."""
    event = OutboxEvent(
        merchant_id=merchant_id,
        type=type_,
        subject_id=subject_id,
        payload=payload,
        occurred_at=utcnow(session),
    )
    session.add(event)
    return event


EVENT_TYPES: tuple[str, ...] = (
    "member.created",
    "member.updated",
    "member.merged",
    "member.stage_changed",
    "member.consent_changed",
    "order.created",
    "order.refunded",
    "import.completed",
)
