"""Ledger tables: accounts, journal entries, postings, points lots, allocations, idempotency keys.

The ledger knows nothing of programs: programs post entries through :mod:`patron.ledger.service`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class Asset(StrEnum):
    """What a balance counts. Each asset balances on its own: postings sum to zero per asset."""

    POINTS = "points"
    # Points earned but still inside the merchant's return window: not spendable (ADR 0301).
    POINTS_PENDING = "points_pending"
    GROWTH = "growth"
    STORED_PRINCIPAL = "stored_principal"
    STORED_BONUS = "stored_bonus"
    COMMISSION = "commission"


class AllocationKind(StrEnum):
    """Why points left (positive amount) or came back to (negative amount) a lot."""

    SPEND = "spend"
    EXPIRE = "expire"
    REVERSE = "reverse"  # an earning taken back (refund)
    DEBT = "debt"  # new points that pay back a permitted negative balance
    RESTORE = "restore"  # a reversed spend gives points back to the lots it used (negative)


class LedgerAccount(MerchantScoped, Base):
    """One balance: a member's (``member_id`` set, ``code`` = asset) or the merchant's side."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        # Last defence (ARCHITECTURE §3.3): only an account allowed to be negative may be.
        CheckConstraint("allow_negative OR balance >= 0", name="non_negative"),
        Index(
            "uq_ledger_accounts_member_code",
            "merchant_id",
            "member_id",
            "code",
            unique=True,
            sqlite_where=text("member_id IS NOT NULL"),
            postgresql_where=text("member_id IS NOT NULL"),
        ),
        Index(
            "uq_ledger_accounts_merchant_code",
            "merchant_id",
            "code",
            unique=True,
            sqlite_where=text("member_id IS NULL"),
            postgresql_where=text("member_id IS NULL"),
        ),
        Index("ix_ledger_accounts_asset", "merchant_id", "asset"),
    )

    member_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    code: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(32))
    # Cached sum of this account's postings; ``patron verify`` recomputes it.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    # Merchant-side accounts: always true. Member accounts: true only while they hold a debt
    # that was posted with an explicit permission (ADR 0302).
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JournalEntry(MerchantScoped, Base):
    """One business event in the ledger. Immutable: mistakes are fixed by new entries."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        merchant_fk("reverses_entry_id", "journal_entries"),
        merchant_fk("corrects_entry_id", "journal_entries"),
        Index("ix_journal_entries_object", "merchant_id", "object_type", "object_id"),
        Index("ix_journal_entries_reverses", "reverses_entry_id"),
        Index("ix_journal_entries_corrects", "corrects_entry_id"),
    )

    reason_code: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500))  # the member reads this (English)
    # The member's words as {"code", "params", "parts"}, worded when read (ADR 0621); null for
    # entries written before them and for staff-typed text: the description is shown.
    words: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # staff only
    actor: Mapped[str] = mapped_column(String(120))
    object_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # An object's id, or a top-up's Idempotency-Key (up to 200 characters, ADR 0034).
    object_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rule_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reverses_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    corrects_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Posting(MerchantScoped, Base):
    """One leg of an entry. ``balance_after`` is the account's balance right after this leg."""

    __tablename__ = "ledger_postings"
    __table_args__ = (
        merchant_fk("entry_id", "journal_entries", ondelete="CASCADE"),
        merchant_fk("account_id", "ledger_accounts", ondelete="CASCADE"),
        Index("ix_ledger_postings_entry", "entry_id"),
        Index("ix_ledger_postings_account", "account_id", "id"),
    )

    entry_id: Mapped[int] = mapped_column(BigId)
    account_id: Mapped[int] = mapped_column(BigId)
    asset: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)


class PointsLot(MerchantScoped, Base):
    """Points from one earning, spent and expired on their own schedule."""

    __tablename__ = "points_lots"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("entry_id", "journal_entries", ondelete="CASCADE"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
        CheckConstraint("reversed >= 0 AND reversed <= amount", name="reversed_in_range"),
        Index("ix_points_lots_member", "member_id", "expires_at", "id"),
        Index("ix_points_lots_due", "merchant_id", "expires_at"),
        Index("ix_points_lots_pending", "merchant_id", "available_at"),
        Index("ix_points_lots_entry", "entry_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    entry_id: Mapped[int] = mapped_column(BigId)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    # Points of this lot taken back by reversals (refunds); never more than ``amount``.
    reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expiring_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PointsAllocation(MerchantScoped, Base):
    """Points taken from (or given back to, when negative) one lot by one entry."""

    __tablename__ = "points_allocations"
    __table_args__ = (
        merchant_fk("entry_id", "journal_entries", ondelete="CASCADE"),
        merchant_fk("lot_id", "points_lots", ondelete="CASCADE"),
        Index("ix_points_allocations_lot", "lot_id"),
        Index("ix_points_allocations_entry", "entry_id"),
    )

    entry_id: Mapped[int] = mapped_column(BigId)
    lot_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)


# The client's Idempotency-Key (at most 200 characters) behind a domain prefix (ADR 0034).
STORED_KEY_LENGTH = 255


class IdempotencyKey(MerchantScoped, Base):
    """A retried write returns its first result (ARCHITECTURE §3.2)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

    key: Mapped[str] = mapped_column(String(STORED_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Core handles for the hot path (plain statements on the session's connection: no ORM overhead).
ACCOUNTS: Table = LedgerAccount.__table__  # type: ignore[assignment]
ENTRIES: Table = JournalEntry.__table__  # type: ignore[assignment]
POSTINGS: Table = Posting.__table__  # type: ignore[assignment]
LOTS: Table = PointsLot.__table__  # type: ignore[assignment]
ALLOCATIONS: Table = PointsAllocation.__table__  # type: ignore[assignment]
KEYS: Table = IdempotencyKey.__table__  # type: ignore[assignment]
