"""The audit trail of erasures: who erased which member record, when and why — no personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
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
