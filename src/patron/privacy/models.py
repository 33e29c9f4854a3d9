"""The audit trail of erasures: who erased which member record, when and why — no personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class MemberErasure(MerchantScoped, Base):
    """One erasure of one member record; a second request finds this row and changes nothing."""

    __tablename__ = "member_erasures"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "member_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "staff:3", "apikey:7": who asked, never a person's name.
    actor: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(300))
    # How many rows each table lost or had anonymised: {"member_notes": 2, ...}.
    counts: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class MemberDataRequest(MerchantScoped, Base):
    """A member's own request from the portal (ADR 1331): ``export`` (a download of their data,
    counted for the rate limit) or ``close`` (close my account). A closing is ``erased`` at once
    when the shop owes the member nothing, else ``pending`` until staff settle and erase."""

    __tablename__ = "member_data_requests"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        Index("ix_member_data_requests_member", "merchant_id", "member_id", "kind", "requested_at"),
        Index("ix_member_data_requests_status", "merchant_id", "kind", "status"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))  # export | close
    status: Mapped[str] = mapped_column(String(16))  # done | pending | erased
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
