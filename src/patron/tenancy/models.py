"""Tenancy tables. Every other table carries ``merchant_id`` first (see ARCHITECTURE §6)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    CLERK = "clerk"

    @property
    def rank(self) -> int:
        return {"clerk": 1, "manager": 2, "owner": 3}[self.value]


class Channel(StrEnum):
    STORE = "store"
    ONLINE = "online"


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Store(MerchantScoped, Base):
    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("merchant_id", "code"),)

    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(120), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffUser(MerchantScoped, Base):
    __tablename__ = "staff_users"
    __table_args__ = (
        UniqueConstraint("merchant_id", "email"),
        Index("ix_staff_users_email", "email"),
    )

    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(MerchantScoped, Base):
    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("prefix", "merchant_id"),)

    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StaffSession(MerchantScoped, Base):
    """A signed-in dashboard session. The cookie carries a random token; only its hash is
    stored. Ending the row (logout, password change, staff removal) ends the session wherever
    the cookie has been copied to (docs/decisions/0015-server-side-sessions.md)."""

    __tablename__ = "staff_sessions"
    __table_args__ = (
        merchant_fk("staff_user_id", "staff_users", ondelete="CASCADE"),
        UniqueConstraint("token_hash", "merchant_id"),
        Index("ix_staff_sessions_user", "merchant_id", "staff_user_id"),
    )

    staff_user_id: Mapped[int] = mapped_column(BigId)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StaffPasswordReset(MerchantScoped, Base):
    """A single-use, expiring link mailed to a staff user to choose a new password (the way in
    while someone else keeps the account locked with wrong passwords)."""

    __tablename__ = "staff_password_resets"
    __table_args__ = (
        merchant_fk("staff_user_id", "staff_users", ondelete="CASCADE"),
        UniqueConstraint("token_hash", "merchant_id"),
    )

    staff_user_id: Mapped[int] = mapped_column(BigId)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginThrottle(Base):
    """Failed sign-ins counted per account (``account:<email>``) and per client address
    (``address:<ip>``). A reference table: a sign-in is refused before any merchant is known.
    The counter only ever changes by one conditional statement (docs/decisions/0016)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
