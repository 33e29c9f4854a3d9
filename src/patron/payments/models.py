"""Payment tables: each merchant's provider settings, and the member's top-up payments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk

# pending → paid → refund_pending → refunded; pending → expired (→ paid on a late payment).
PENDING = "pending"
PAID = "paid"
EXPIRED = "expired"
REFUND_PENDING = "refund_pending"
REFUNDED = "refunded"
REFUND_FAILED = "refund_failed"


class PaymentSetting(MerchantScoped, Base):
    """One merchant's account with one payment provider. ``credentials`` holds secrets (private
    keys, API keys): never logged, never shown back (ADR 0861, ADR 1311)."""

    __tablename__ = "payment_settings"
    __table_args__ = (UniqueConstraint("provider", "merchant_id"),)

    provider: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    credentials: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentOrder(MerchantScoped, Base):
    """A member's top-up paid through a provider. Credited once, through the top-up whose
    idempotency key is ``payment:<out_trade_no>`` (ADR 1310)."""

    __tablename__ = "payment_orders"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("top_up_id", "top_ups"),
        UniqueConstraint("out_trade_no", "merchant_id"),
        Index("ix_payment_orders_member", "merchant_id", "member_id", "id"),
        Index("ix_payment_orders_due", "status", "expires_at"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    provider: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # The bonus the rules gave when the member chose the amount (shown before paying).
    quoted_bonus_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    out_trade_no: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    provider_txn_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # What the member's device shows to pay: a QR code's content, a client secret, a link.
    pay_data: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    top_up_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    refund_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    bonus_forfeited_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_txn_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refund_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
