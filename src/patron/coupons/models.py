"""Coupon, points mall and gift-with-purchase tables.

A coupon TEMPLATE is the campaign the merchant designs; a CODE is one coupon issued from it to
one member. Counters that limits depend on (``issued_count``, ``stock``) change only by
conditional ``UPDATE … SET n = n ± k WHERE …`` statements, never read-modify-write.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class CouponKind(StrEnum):
    AMOUNT_OFF = "amount_off"
    PERCENT_OFF = "percent_off"
    FREE_GIFT = "free_gift"


class CodeStatus(StrEnum):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    VOIDED = "voided"
    EXPIRED = "expired"


class CodeSource(StrEnum):
    MANUAL = "manual"
    BULK = "bulk"
    WELCOME = "welcome"
    BIRTHDAY = "birthday"
    TIER_UP = "tier_up"
    CAMPAIGN = "campaign"
    MALL = "mall"
    CHECK_IN = "check_in"


class CouponTemplate(MerchantScoped, Base):
    __tablename__ = "coupon_templates"
    __table_args__ = (
        CheckConstraint(
            "total_limit IS NULL OR issued_count <= total_limit", name="issue_within_limit"
        ),
    )

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount_off_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    percent_off: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1..100
    max_discount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gift_sku: Mapped[str | None] = mapped_column(String(80), nullable=True)
    gift_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    min_spend_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Empty lists mean "everything": any category, any sku, any store.
    categories: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    skus: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    store_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # N days from issue
    per_member_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    total_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    stackable: Mapped[bool] = mapped_column(default=False)  # with other stackable coupons
    with_member_discounts: Mapped[bool] = mapped_column(default=True)  # tier / member day
    # Issued automatically on these events: welcome, birthday, tier_up (tier codes optional).
    auto_issue_on: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    tier_codes: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | archived
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CouponCode(MerchantScoped, Base):
    __tablename__ = "coupon_codes"
    __table_args__ = (
        merchant_fk("template_id", "coupon_templates", ondelete="CASCADE"),
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("redeemed_order_id", "orders", ondelete="SET NULL"),
        UniqueConstraint("merchant_id", "code"),
        # Event issuance is idempotent per (template, member, reason): NULL keys never clash.
        UniqueConstraint("template_id", "member_id", "reason_key", "merchant_id"),
        Index("ix_coupon_codes_member", "merchant_id", "member_id", "status"),
        Index("ix_coupon_codes_template", "template_id", "member_id"),
        Index("ix_coupon_codes_expiry", "status", "expires_at"),
        Index("ix_coupon_codes_order", "merchant_id", "redeemed_order_id"),
    )

    template_id: Mapped[int] = mapped_column(BigId)
    code: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=CodeStatus.ISSUED.value)
    source: Mapped[str] = mapped_column(String(16))
    reason_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    redeemed_order_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor: Mapped[str | None] = mapped_column(String(120), nullable=True)


class MallItemKind(StrEnum):
    GIFT = "gift"
    VOUCHER = "voucher"
    PRODUCT = "product"


class MallItem(MerchantScoped, Base):
    __tablename__ = "mall_items"
    __table_args__ = (
        merchant_fk("template_id", "coupon_templates", ondelete="RESTRICT"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    sku: Mapped[str | None] = mapped_column(String(80), nullable=True)
    template_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    points_price: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unlimited
    per_member_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    active_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | archived
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MallOrderStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    COLLECTED = "collected"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class MallOrder(MerchantScoped, Base):
    __tablename__ = "mall_orders"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("item_id", "mall_items", ondelete="RESTRICT"),
        merchant_fk("coupon_code_id", "coupon_codes", ondelete="SET NULL"),
        UniqueConstraint("merchant_id", "idempotency_key"),
        Index("ix_mall_orders_member", "merchant_id", "member_id", "item_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    item_id: Mapped[int] = mapped_column(BigId)
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(200))  # the client's, ADR 0034
    request_hash: Mapped[str] = mapped_column(String(64))
    spend_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    refund_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    coupon_code_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GiftRule(MerchantScoped, Base):
    """Spend X (optionally in categories) or buy sku Y → get gift Z while stock lasts."""

    __tablename__ = "gift_rules"
    __table_args__ = (CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),)

    name: Mapped[str] = mapped_column(String(120))
    min_spend_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    categories: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    buy_sku: Mapped[str | None] = mapped_column(String(80), nullable=True)
    gift_sku: Mapped[str] = mapped_column(String(80))
    gift_name: Mapped[str] = mapped_column(String(200))
    gift_quantity: Mapped[int] = mapped_column(Integer, default=1)
    stock: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unlimited
    active_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    active_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GiftGrant(MerchantScoped, Base):
    """One gift handed out with one order (the audit trail of the stock)."""

    __tablename__ = "gift_grants"
    __table_args__ = (
        merchant_fk("rule_id", "gift_rules", ondelete="CASCADE"),
        merchant_fk("order_id", "orders", ondelete="SET NULL"),
        merchant_fk("member_id", "members", ondelete="SET NULL"),
        UniqueConstraint("rule_id", "order_id", "merchant_id"),
    )

    rule_id: Mapped[int] = mapped_column(BigId)
    order_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    member_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
