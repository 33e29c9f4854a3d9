"""Languages of the pages and reports: English and Simplified Chinese.

Catalogs are ``.po`` files under ``web/translations/<locale>/LC_MESSAGES/messages.po``; they are
compiled in memory when the app starts, so a fresh ``pip install -e .`` needs no build step.
This package sits below ``web`` and ``analytics`` so both use it (the web pages, and the
self-contained HTML report of ``patron report``), ADR 0920; the catalogs stay in ``web/``.
Dates are shown in the merchant's time zone and money in the merchant's currency, both in the
reader's locale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, get_timezone_location
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from patron.core.languages import normalise_locale as normalise_locale  # re-exported
from patron.core.money import format_money
from patron.ledger import words as ledger_words

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "web" / "translations"
DEFAULT_LOCALE = "en"


@dataclass(frozen=True)
class Language:
    """A language the pages are offered in."""

    code: str  # our id, also the catalog directory name
    html_lang: str  # the BCP 47 tag for <html lang>
    label: str  # the language's own name, shown in the switcher
    babel_locale: str  # the CLDR locale used to format dates and numbers


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "en", "English", "en_GB"),
    "zh_Hans": Language("zh_Hans", "zh-Hans", "中文", "zh_Hans_CN"),
}


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def negotiate(accept_language: str | None) -> str | None:
    """The first offered language in an ``Accept-Language`` header, by its q-values."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag))
    for neg_quality, _position, tag in sorted(ranked):
        code = normalise_locale(tag)
        if code and neg_quality < 0:
            return code
    return None


def _compile(po_path: Path, code: str) -> Translations:
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=code)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


@lru_cache(maxsize=len(LANGUAGES))
def translations_for(code: str) -> NullTranslations:
    """The compiled catalog of ``code`` (English is the source language: no catalog)."""
    po_path = TRANSLATIONS_DIR / code / "LC_MESSAGES" / "messages.po"
    if code == DEFAULT_LOCALE or not po_path.exists():
        return NullTranslations()
    return _compile(po_path, code)


class Formatter:
    """Formats values for one reader: their language, the merchant's currency and time zone."""

    def __init__(self, code: str, currency: str = "USD", timezone: str = "UTC") -> None:
        self.language = LANGUAGES[code]
        self.locale = Locale.parse(self.language.babel_locale)
        self.currency = currency
        self.zone = ZoneInfo(timezone)

    def money(self, minor: int | None, currency: str | None = None) -> str:
        """Minor units as money with the currency's own decimals (``patron.core.money``):
        12345 CNY → ``¥123.45``, 1234 JPY → ``JP¥1,234``, 1234 KWD → ``KWD 1.234``."""
        if minor is None:
            return ""
        return format_money(minor, currency or self.currency, self.language.babel_locale)

    def words(self, words: dict[str, Any] | None, fallback: str = "") -> str:
        """A statement line's words (a phrase code and figures) in the reader's language;
        ``fallback`` (the stored description) for entries written before words (ADR 0621)."""
        if not words:
            return fallback
        return ledger_words.render(
            words,
            translations_for(self.language.code).gettext,
            lambda n: self.number(n),
            lambda d: self.date(d),
            lambda minor, currency: self.money(minor, currency),
        )

    def language_name(self, code: str | None) -> str:
        """A locale code (``zh_Hans_CN``, ``en``) as its language's name in the reader's
        language ("Chinese (Simplified, China)", "中文（简体，中国）"); the code if unknown."""
        if not code:
            return ""
        try:
            name = Locale.parse(code.replace("-", "_")).get_display_name(self.locale)
        except (ValueError, TypeError, UnknownLocaleError):
            return code
        return str(name) if name else code

    def zone_name(self, zone: str | None) -> str:
        """A time zone as its place in the reader's language: ``Asia/Shanghai`` →
        "中国（上海）时间", "China (Shanghai) Time"; UTC and unknown zones as their id."""
        if not zone or zone.upper() in ("UTC", "ETC/UTC"):
            return zone or ""
        try:
            return str(get_timezone_location(ZoneInfo(zone), locale=self.locale))
        except (KeyError, ValueError, LookupError):
            return zone

    def number(self, value: int | float | Decimal | None) -> str:
        return "" if value is None else str(format_decimal(value, locale=self.locale))

    def datetime(self, value: dt.datetime | None, style: str = "medium") -> str:
        if value is None:
            return ""
        return str(format_datetime(value, style, tzinfo=self.zone, locale=self.locale))

    def weekday(self, value: dt.date) -> str:
        """The day of the week, short: "Tue", "周二"."""
        return str(format_date(value, "EEE", locale=self.locale))

    def date(self, value: dt.date | dt.datetime | None, style: str = "medium") -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = value.astimezone(self.zone).date()
        return str(format_date(value, style, locale=self.locale))
