"""Member tables."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk
from patron.members.names import display_name, greeting_name


class FunnelStage(StrEnum):
    USER = "user"
    CUSTOMER = "customer"
    MEMBER = "member"
    FAN = "fan"


class ConsentChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    WECHAT = "wechat"
    IN_APP = "in_app"


class IdentityKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    EXTERNAL = "external"


class Member(MerchantScoped, Base):
    __tablename__ = "members"
    __table_args__ = (
        merchant_fk("home_store_id", "stores", ondelete="SET NULL"),
        merchant_fk("merged_into_id", "members", ondelete="SET NULL"),
        Index("ix_members_merchant_phone", "merchant_id", "phone"),
        Index("ix_members_merchant_email", "merchant_id", "email"),
        Index("ix_members_merchant_last_name", "merchant_id", "last_name"),
        Index("ix_members_merchant_stage", "merchant_id", "funnel_stage"),
        # Growth of merged records counts for the kept member (ADR 0371): found by this index.
        Index(
            "ix_members_merged_into",
            "merged_into_id",
            sqlite_where=text("merged_into_id IS NOT NULL"),
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
    )

    first_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    gender: Mapped[str | None] = mapped_column(String(16), nullable=True)
    birthday: Mapped[date | None] = mapped_column(Date, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    address: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    preferences: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    source: Mapped[str | None] = mapped_column(String(40), nullable=True)
    home_store_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    funnel_stage: Mapped[str] = mapped_column(String(16), default=FunnelStage.USER.value)
    # Purchase summary kept current by the orders service (derivable; cached for lists and rules).
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spent_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    engagement_score: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # Set when the member's personal data was erased on request (patron.privacy, ADR 0050):
    # the row stays as an anonymous tombstone so orders and the ledger keep their references.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def display_name(self) -> str:
        """The name in the order of its script (周悦, Carol Smith); else email, phone or id."""
        name = display_name(self.first_name, self.last_name)
        return name or self.email or self.phone or f"#{self.id}"

    @property
    def greeting_name(self) -> str:
        """The name a greeting uses: "Carol" for Carol Smith, "周悦" for 周悦 (ADR 0620)."""
        return greeting_name(self.first_name, self.last_name) or self.display_name


class MemberIdentity(MerchantScoped, Base):
    """A way to recognise a member: phone, email, or an id in a POS / online store."""

    __tablename__ = "member_identities"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "kind", "namespace", "value"),
        Index("ix_member_identities_member", "member_id"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))
    # For external ids: the system that issued it ("shopify", "pos", "import"); "" otherwise.
    namespace: Mapped[str] = mapped_column(String(40), default="")
    value: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberTag(MerchantScoped, Base):
    __tablename__ = "member_tags"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "member_id", "tag"),
        Index("ix_member_tags_tag", "merchant_id", "tag"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    tag: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberNote(MerchantScoped, Base):
    """One entry of the conversation log: when, which staff, which channel, what was said."""

    __tablename__ = "member_notes"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        merchant_fk("staff_user_id", "staff_users", ondelete="SET NULL"),
        Index("ix_member_notes_member", "member_id", "noted_at"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    staff_user_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    author: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)


class MemberConsent(MerchantScoped, Base):
    """Current consent for one channel and topic; every change is kept in ``consent_changes``."""

    __tablename__ = "member_consents"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "member_id", "channel", "topic"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(40), default="marketing")
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentChange(MerchantScoped, Base):
    __tablename__ = "consent_changes"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        Index("ix_consent_changes_member", "member_id", "changed_at"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(40))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Proof of what the member was shown when they said yes (the sign-up page): the words in
    # the language they read, and a version that changes whenever the words do.
    wording: Mapped[str | None] = mapped_column(Text, nullable=True)
    wording_version: Mapped[str | None] = mapped_column(String(64), nullable=True)


class FunnelTransition(MerchantScoped, Base):
    __tablename__ = "funnel_transitions"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        Index("ix_funnel_transitions_member", "member_id", "moved_at"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    from_stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_stage: Mapped[str] = mapped_column(String(16))
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200))


class MemberActivity(MerchantScoped, Base):
    """Something a member did that shows attention (a portal visit, a message opened or
    clicked…), with the points it adds to ``members.engagement_score`` while it is inside the
    rolling window (members/engagement.py). The key makes a reload or a second pixel a no-op."""

    __tablename__ = "member_activities"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "member_id", "dedupe_key"),
        Index("ix_member_activities_member", "member_id", "occurred_at"),
        # The expiry task finds the live rows leaving the window through this.
        Index("ix_member_activities_live", "expired", "occurred_at"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(24))
    points: Mapped[int] = mapped_column(Integer)
    dedupe_key: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once the row has left the window and the member's score was recomputed without it.
    expired: Mapped[bool] = mapped_column(Boolean, default=False)


class ConsentTopic(MerchantScoped, Base):
    """One topic a member can say yes or no to, per merchant: the one list that imports, the
    portal, campaigns, journeys and the API choose from (ADR 0420).

    ``marketing`` topics need an opt-in: the topic's own answer, else the member's answer to
    the general ``marketing`` topic on that channel. Service topics (orders, after-sales care)
    go until the member says no. ``labels`` maps a locale (``en``, ``zh_Hans``) to the words a
    member reads; the code never changes once consents refer to it."""

    __tablename__ = "consent_topics"
    __table_args__ = (UniqueConstraint("merchant_id", "code"),)

    code: Mapped[str] = mapped_column(String(40))
    labels: Mapped[dict[str, str]] = mapped_column(JsonDoc, default=dict)
    marketing: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberLunarBirthday(MerchantScoped, Base):
    """A birthday the member celebrates in the Chinese lunar calendar (ADR 1332): the lunar
    month and day, and whether the month is a leap (闰) month. Kept beside the Gregorian
    ``members.birthday``; when it is there the birthday points and journeys follow it."""

    __tablename__ = "member_lunar_birthdays"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "member_id"),
        Index("ix_member_lunar_birthdays_day", "merchant_id", "lunar_month", "lunar_day"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    lunar_month: Mapped[int] = mapped_column(Integer)
    lunar_day: Mapped[int] = mapped_column(Integer)
    leap_month: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
