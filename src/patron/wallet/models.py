"""A merchant's wallet settings, the passes its members saved, and the devices holding them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class WalletSettings(MerchantScoped, Base):
    """One merchant's Apple and Google Wallet settings. ``credentials`` holds the secrets (the
    pass certificate's private key, the Google service account's key): write-only on the
    settings page (ADR 0861), never logged."""

    __tablename__ = "wallet_settings"
    __table_args__ = (UniqueConstraint("merchant_id"),)

    apple_pass_type_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    apple_team_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    google_issuer_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    google_service_account: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # apple_certificate, apple_key, apple_wwdr (PEM); google_key (PEM)
    credentials: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WalletPass(MerchantScoped, Base):
    """A member's card as a wallet pass: its serial number and when what it shows last changed
    (points, tier, stored value, name), which is the pass's Last-Modified (ADR 1330)."""

    __tablename__ = "wallet_passes"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "member_id"),
        UniqueConstraint("serial", "merchant_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    serial: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WalletRegistration(MerchantScoped, Base):
    """A device that holds a pass and asked to be told when it changes (PassKit web service)."""

    __tablename__ = "wallet_registrations"
    __table_args__ = (
        merchant_fk("pass_id", "wallet_passes", ondelete="CASCADE"),
        UniqueConstraint("pass_id", "device_id", "merchant_id"),
        Index("ix_wallet_registrations_device", "device_id"),
    )

    pass_id: Mapped[int] = mapped_column(BigId)
    device_id: Mapped[str] = mapped_column(String(128))
    push_token: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The last time a push was handed to the push service for this device (None: never).
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
