"""Sign-in links sent to members: single use and expiring."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
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


class PortalCode(MerchantScoped, Base):
    """A one-time sign-in code sent to a phone or an email (ADR 1300). Only a keyed hash of the
    code is kept; it lasts ``PATRON_PORTAL_CODE_MAX_AGE_SECONDS`` and works once. A code for a
    person who is not a member yet carries the sign-up form (``join_form``): the member is
    created only when the code comes back, so an address never proven is never a member."""

    __tablename__ = "portal_codes"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        Index("ix_portal_codes_address", "merchant_id", "address", "created_at"),
    )

    # The normalised phone (E.164) or email the code was sent to.
    address: Mapped[str] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    join_form: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MemberJoin(MerchantScoped, Base):
    """A member who joined by themselves (scan to join): the store whose link they opened, the
    staff member whose own link it was, and the campaign or poster (``source``). One row per
    member; a member who was already there and only signed in has none."""

    __tablename__ = "member_joins"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("store_id", "stores", ondelete="SET NULL"),
        merchant_fk("staff_user_id", "staff_users", ondelete="SET NULL"),
        UniqueConstraint("merchant_id", "member_id"),
        Index("ix_member_joins_store", "merchant_id", "store_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    store_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    staff_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    source: Mapped[str | None] = mapped_column(String(40), nullable=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
