"""Catalogue and order tables. Money is in minor units of the merchant's currency."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class OrderStatus(StrEnum):
    COMPLETED = "completed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class Product(MerchantScoped, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("merchant_id", "sku"),
        Index("ix_products_category", "merchant_id", "category"),
        Index(
            "ix_products_release",
            "merchant_id",
            "release_at",
            sqlite_where=text("release_at IS NOT NULL"),
            postgresql_where=text("release_at IS NOT NULL"),
        ),
    )

    sku: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(120), nullable=True)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    tags: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Before this moment only members may buy the product (early access, ADR 0357).
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(MerchantScoped, Base):
    __tablename__ = "orders"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="SET NULL"),
        merchant_fk("store_id", "stores", ondelete="SET NULL"),
        UniqueConstraint("merchant_id", "external_id"),
        Index("ix_orders_member", "merchant_id", "member_id", "placed_at"),
        Index("ix_orders_placed", "merchant_id", "placed_at"),
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= total_minor", name="refund_bounds"
        ),
    )

    external_id: Mapped[str] = mapped_column(String(120))
    member_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    store_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(40), default="api")
    request_hash: Mapped[str] = mapped_column(String(64))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderLine(MerchantScoped, Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        merchant_fk("order_id", "orders", ondelete="CASCADE"),
        UniqueConstraint("order_id", "line_no", "merchant_id"),
        Index("ix_order_lines_merchant_sku", "merchant_id", "sku"),
        CheckConstraint("quantity > 0", name="positive_quantity"),
        CheckConstraint(
            "refunded_quantity >= 0 AND refunded_quantity <= quantity", name="refund_quantity"
        ),
    )

    order_id: Mapped[int] = mapped_column(BigId)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str | None] = mapped_column(String(80), nullable=True)
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(120), nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # quantity * unit_price_minor - discount_minor: the line's price after its own discount.
    total_minor: Mapped[int] = mapped_column(BigInteger)
    # total_minor less the line's share of order-level discounts: what was paid for the line.
    # The lines' paid amounts add up to the order total exactly (largest-remainder split).
    paid_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class Refund(MerchantScoped, Base):
    __tablename__ = "refunds"
    __table_args__ = (
        merchant_fk("order_id", "orders", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "external_id"),
        Index("ix_refunds_order", "order_id"),
    )

    order_id: Mapped[int] = mapped_column(BigId)
    external_id: Mapped[str] = mapped_column(String(120))
    refunded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RefundLine(MerchantScoped, Base):
    __tablename__ = "refund_lines"
    __table_args__ = (
        merchant_fk("refund_id", "refunds", ondelete="CASCADE"),
        merchant_fk("order_line_id", "order_lines", ondelete="CASCADE"),
        Index("ix_refund_lines_refund", "refund_id"),
    )

    refund_id: Mapped[int] = mapped_column(BigId)
    order_line_id: Mapped[int] = mapped_column(BigId)
    quantity: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
