"""Normalising contact details the same way everywhere (API, import, demo)."""

from __future__ import annotations

import re
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from patron.core.errors import InvalidInput

GENDERS = {"female", "male", "other", "unknown"}
_GENDER_ALIASES = {
    "f": "female",
    "female": "female",
    "woman": "female",
    "女": "female",
    "m": "male",
    "male": "male",
    "man": "male",
    "男": "male",
    "other": "other",
    "x": "other",
    "unknown": "unknown",
    "": "unknown",
}
_TAG = re.compile(r"^[^\s,;][^,;]{0,79}$")


def region_of_country(country_code: str | None, default: str = "CN") -> str:
    """Phone region for a merchant or address country (ISO 3166 alpha-2)."""
    return (country_code or default).upper()


def normalize_phone(raw: str, region: str = "CN") -> str:
    """A phone number in E.164 (``+8613812345678``); national numbers use ``region``."""
    text = raw.strip()
    if not text:
        raise InvalidInput("phone is empty", code="invalid_phone")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"not a phone number: {raw!r}", code="invalid_phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"not a valid phone number: {raw!r}", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """A syntactically valid email, lower-cased (no DNS look-up: works offline)."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"not a valid email: {raw!r} ({exc})", code="invalid_email") from exc
    return result.normalized.lower()


def normalize_gender(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = _GENDER_ALIASES.get(raw.strip().lower())
    if value is None:
        raise InvalidInput(
            f"gender must be female, male, other or unknown, not {raw!r}", code="invalid_gender"
        )
    return value


def normalize_tag(raw: str) -> str:
    tag = raw.strip()
    if not _TAG.match(tag):
        raise InvalidInput(
            f"tag {raw!r}: 1-80 characters, no commas or semicolons", code="invalid_tag"
        )
    return tag


def split_tags(raw: str | None) -> list[str]:
    """Tags from a CSV cell: separated by commas or semicolons; duplicates removed, order kept."""
    if not raw:
        return []
    seen: dict[str, None] = {}
    for part in re.split(r"[,;]", raw):
        if part.strip():
            seen.setdefault(normalize_tag(part), None)
    return list(seen)


def parse_birthday(raw: str) -> date:
    """``YYYY-MM-DD`` or ``MM-DD`` (year unknown: stored as year 1904, a leap year)."""
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        if re.fullmatch(r"\d{2}-\d{2}", text):
            return date.fromisoformat(f"1904-{text}")
    except ValueError as exc:
        raise InvalidInput(f"not a date: {raw!r}", code="invalid_birthday") from exc
    raise InvalidInput(
        f"birthday must be YYYY-MM-DD or MM-DD, not {raw!r}", code="invalid_birthday"
    )
