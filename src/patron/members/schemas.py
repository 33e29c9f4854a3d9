"""API shapes for members."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from patron.core.patch import Patch
from patron.members.language import LanguageSource, language_of_loaded
from patron.members.models import Member

ChannelName = Literal["email", "sms", "whatsapp", "wechat", "in_app"]


class Address(BaseModel):
    line1: str | None = Field(default=None, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(
        default=None, min_length=2, max_length=2, description="ISO 3166-1 alpha-2"
    )


class Preferences(BaseModel):
    categories: list[str] = Field(default_factory=list, max_length=50)
    styles: list[str] = Field(default_factory=list, max_length=50)
    colours: list[str] = Field(default_factory=list, max_length=50)


class ExternalId(BaseModel):
    namespace: str = Field(
        min_length=1, max_length=40, description="issuing system, e.g. 'shopify'"
    )
    value: str = Field(min_length=1, max_length=254)


class ConsentIn(BaseModel):
    channel: ChannelName
    granted: bool
    topic: str = Field(default="marketing", min_length=1, max_length=40)
    source: str = Field(default="api", min_length=1, max_length=80)


class MemberBase(BaseModel):
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    gender: str | None = Field(default=None, max_length=16)
    birthday: date | None = None
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    address: Address | None = None
    locale: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)
    preferences: Preferences | None = None
    home_store_id: int | None = None


class MemberCreate(MemberBase):
    external_ids: list[ExternalId] = Field(default_factory=list, max_length=20)
    tags: list[str] = Field(default_factory=list, max_length=100)
    consents: list[ConsentIn] = Field(default_factory=list, max_length=20)
    registered: bool = Field(
        default=True, description="joined the loyalty program (a member, not only a contact)"
    )
    source: str | None = Field(default="api", max_length=40)


class MemberUpdate(MemberBase, Patch):
    """Only the fields sent are changed; send null to clear a field (not ``preferences``: send
    empty lists; nor ``registered``)."""

    clearable = frozenset(
        {
            "first_name",
            "last_name",
            "gender",
            "birthday",
            "phone",
            "email",
            "address",
            "locale",
            "timezone",
            "home_store_id",
        }
    )

    registered: bool | None = None


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: str
    namespace: str
    value: str


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    channel: str
    topic: str
    granted: bool
    source: str
    changed_at: datetime


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    first_name: str | None
    last_name: str | None
    display_name: str
    gender: str | None
    birthday: date | None
    phone: str | None
    email: str | None
    address: dict[str, str | None] | None
    locale: str | None
    timezone: str | None
    preferences: dict[str, list[str]]
    home_store_id: int | None
    source: str | None
    registered_at: datetime | None
    funnel_stage: str
    orders_count: int
    total_spent_minor: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    engagement_score: int = Field(
        description="attention points over the last 90 days (portal visits, message opens and "
        "clicks); 10 or more makes a registered member a fan"
    )
    merged_into_id: int | None
    erased_at: datetime | None = Field(
        default=None,
        description="when the member's personal data was erased on request (the record stays "
        "as an anonymous tombstone; docs/privacy.md)",
    )
    created_at: datetime
    updated_at: datetime
    language: str = Field(
        description="the language messages and the portal use for this member (en, zh_Hans)"
    )
    language_source: LanguageSource = Field(
        description="given (locale), inferred from the phone's or the address's country, "
        "or the merchant's language"
    )

    @model_validator(mode="before")
    @classmethod
    def _effective_language(cls, data: Any) -> Any:
        """A member row gains its effective language (members.language; computed, not stored)."""
        if not isinstance(data, Member):
            return data
        spoken = language_of_loaded(data)
        fields = {name: getattr(data, name) for name in cls.model_fields if hasattr(data, name)}
        return fields | {"language": spoken.code, "language_source": spoken.source}


class MemberDetail(MemberOut):
    tags: list[str]
    identities: list[IdentityOut]
    consents: list[ConsentOut]


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=10_000)
    channel: str = Field(
        default="in_store",
        min_length=1,
        max_length=32,
        description="in_store, phone, wechat, email…",
    )
    noted_at: datetime | None = Field(default=None, description="when it was said (default now)")


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    noted_at: datetime
    author: str
    staff_user_id: int | None
    channel: str
    body: str


class TagsIn(BaseModel):
    tags: list[str] = Field(min_length=1, max_length=100)


class MergeIn(BaseModel):
    other_member_id: int = Field(description="this member is folded into the one in the path")


class FunnelTransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    from_stage: str | None
    to_stage: str
    moved_at: datetime
    reason: str
