"""Sign-in links sent to members: single use and expiring."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class PortalLink(MerchantScoped, Base):
    __tablename__ = "portal_links"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("nonce", "merchant_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PortalVisit(MerchantScoped, Base):
    """A member seen on the portal on a day (the merchant's calendar): daily actives, and
    visitors who go on to buy."""

    __tablename__ = "portal_visits"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "member_id", "visited_on"),
        Index("ix_portal_visits_day", "merchant_id", "visited_on"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    visited_on: Mapped[date] = mapped_column(Date)
    # The first page view of that day.
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PortalSession(MerchantScoped, Base):
    """A member signed in to the portal; the cookie carries a random token whose hash is here.
    Signing out ends the row, so a copied cookie stops working at once."""

    __tablename__ = "portal_sessions"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("token_hash", "merchant_id"),
        Index("ix_portal_sessions_member", "merchant_id", "member_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
