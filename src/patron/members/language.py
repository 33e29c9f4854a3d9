"""A member's language: the one every message, portal page and unsubscribe page uses.

Given (``members.locale``, when it is a language Patron offers) → inferred from the phone
number's country → inferred from the address's country → the merchant's language. A country
gives the first of its official languages (CLDR territory data via Babel, de facto official
included: English in the US and Australia) that Patron offers; Hong Kong gives English because
Traditional Chinese is not offered yet, Switzerland gives nothing and falls through.

It is computed when read, never stored (docs/decisions/0410-member-language-computed.md): the
phone, the address and the offered languages can all change, and ``locale`` keeps meaning "what
the member or the merchant said" so the API can show given and inferred apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from babel import Locale
from babel.languages import get_official_languages
from sqlalchemy.orm import Session, object_session

from patron.core.languages import DEFAULT, normalise_locale
from patron.members.models import Member
from patron.tenancy.models import Merchant

LanguageSource = Literal["given", "phone", "address", "merchant"]


@dataclass(frozen=True)
class MemberLanguage:
    """The language code (``en``, ``zh_Hans``) and where it came from."""

    code: str
    source: LanguageSource


@lru_cache(maxsize=512)
def territory_language(territory: str) -> str | None:
    """The first official language of an ISO 3166 territory that Patron offers, or None."""
    try:
        spoken = get_official_languages(territory.upper(), de_facto=True)
    except (KeyError, ValueError):
        return None
    return next((code for code in map(normalise_locale, spoken) if code), None)


@lru_cache(maxsize=4096)
def phone_territory(phone: str) -> str | None:
    """The country of an E.164 number (``+44…`` → ``GB``; ``+1 416…`` → ``CA``), or None."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    # A number outside every known range still names its country code's main country.
    region = phonenumbers.region_code_for_number(number) or (
        phonenumbers.region_code_for_country_code(number.country_code)
        if number.country_code
        else None
    )
    return region if region and region != "ZZ" else None


@lru_cache(maxsize=1)
def _territory_names() -> dict[str, str]:
    """Country names in English and Chinese → code, for addresses that spell the country out."""
    names: dict[str, str] = {}
    for tag in ("en", "zh_Hans"):
        for code, name in Locale.parse(tag).territories.items():
            if len(code) == 2 and code.isascii() and code.isalpha():
                names.setdefault(name.casefold(), code)
    return names


def address_territory(address: dict[str, Any] | None) -> str | None:
    """The address's country: an ISO code (``GB``) or a name in English or Chinese."""
    country = (address or {}).get("country")
    if not isinstance(country, str) or not country.strip():
        return None
    text = country.strip()
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    return _territory_names().get(text.casefold())


def member_language(member: Member, merchant_locale: str | None) -> MemberLanguage:
    """The language to address ``member`` in, and whether it was given or inferred (and how)."""
    given = normalise_locale(member.locale)
    if given:
        return MemberLanguage(given, "given")
    territory = phone_territory(member.phone) if member.phone else None
    inferred = territory_language(territory) if territory else None
    if inferred:
        return MemberLanguage(inferred, "phone")
    territory = address_territory(member.address)
    inferred = territory_language(territory) if territory else None
    if inferred:
        return MemberLanguage(inferred, "address")
    return MemberLanguage(normalise_locale(merchant_locale) or DEFAULT, "merchant")


def language_of(session: Session, member: Member) -> MemberLanguage:
    """:func:`member_language` with the member's merchant looked up in ``session``."""
    merchant = session.get(Merchant, member.merchant_id)
    return member_language(member, merchant.locale if merchant else None)


def language_of_loaded(member: Member) -> MemberLanguage:
    """:func:`language_of` in the session the member was loaded from (for API shapes)."""
    session = object_session(member)
    if session is None:
        return member_language(member, None)
    return language_of(session, member)
