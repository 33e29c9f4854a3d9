"""Money as people read it: minor units shown with the currency's own number of decimals.

Amounts are stored as integers in the currency's minor unit (ADR on money in concepts.md); how
many decimals that unit has is the currency's, from CLDR through Babel: CNY and USD 2, JPY and
KRW 0, KWD and BHD 3. Every amount shown to a person goes through :func:`format_money`. It also
bounds the amounts Patron computes from what it was sent (:data:`MAX_ORDER_MINOR`, ADR 0031).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_precision

from patron.core.errors import InvalidInput

# The largest amount one order (or cart) may come to, in minor units: 10^15 (ten trillion yuan
# in fen). Each number of a line fits 64 bits; quantity x price summed over many lines did not,
# and the database answered 500. Far below 2^63, so the member's and the shop's running totals
# have room too (ADR 0031).
MAX_ORDER_MINOR = 10**15


def check_order_amount(amount: int, what: str) -> None:
    """422 ``amount_too_large`` if ``amount`` exceeds what one order may come to."""
    if amount > MAX_ORDER_MINOR:
        raise InvalidInput(
            f"{what} comes to {amount}, more than one order may ({MAX_ORDER_MINOR})",
            code="amount_too_large",
            details={"amount_minor": amount, "max_minor": MAX_ORDER_MINOR},
        )


@lru_cache(maxsize=256)
def minor_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has (JPY 0, CNY 2, KWD 3)."""
    return int(get_currency_precision(currency))


def to_major(minor: int, currency: str) -> Decimal:
    """``1234`` JPY → ``Decimal("1234")``; ``1234`` CNY → ``Decimal("12.34")``."""
    return Decimal(minor).scaleb(-minor_digits(currency))


def format_money(minor: int, currency: str, locale: str = "en_GB") -> str:
    """Minor units as money in ``locale`` (a CLDR locale): 1234 JPY → ``JP¥1,234``,
    1234 KWD → ``KWD 1.234``, 12345 CNY in ``zh_Hans_CN`` → ``¥123.45``."""
    return str(format_currency(to_major(minor, currency), currency, locale=_locale(locale)))


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    # Parsing a locale (and loading its CLDR data) was most of the cost of formatting an
    # amount; a checkout formats about ten (issue 12's profile).
    return Locale.parse(name)
