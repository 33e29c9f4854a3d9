"""What a statement line says, kept as a phrase code and its figures, worded when read (ADR 0621).

A journal entry stores ``words`` = ``{"code": ..., "params": {...}, "parts": [...]}``; the
statement (dashboard, portal, API) renders it in the reader's language through the catalogue,
with amounts formatted by Babel in the entry's currency. ``description`` keeps the English
rendering, written with the entry, for readers of old rows and for search.

Parameters are typed by their names: ``*_minor`` is money in the minor units of
``params["currency"]``; ``*_on`` an ISO date; other ``int`` values are counts (points, growth);
strings (order numbers, item names) are shown as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from patron.core.money import format_money


def N_(message: str) -> str:
    """Mark a phrase for extraction (``babel.cfg``); it is translated where it is read."""
    return message


PHRASES: dict[str, str] = {
    # whole entries
    "purchase": N_("Order %(order)s"),
    "refund": N_("Refund of order %(order)s"),
    "top_up": N_("Top-up of %(amount_minor)s"),
    "top_up_bonus": N_("Top-up of %(amount_minor)s with a bonus of %(bonus_minor)s"),
    "top_up_refund": N_("Refund of the top-up of %(amount_minor)s: %(cash_minor)s paid back"),
    "welcome_bonus": N_("Welcome points"),
    "birthday_bonus": N_("Birthday points %(year)s"),
    "check_in": N_("Daily check-in, day %(streak)s in a row"),
    "check_in_milestone": N_("Daily check-in, day %(streak)s in a row: milestone reached"),
    "action": N_("Reward for: %(action)s"),
    "points_released": N_("%(points)s pending points are now available"),
    "points_expired": N_("%(points)s points earned on %(earned_on)s expired"),
    "mall_redeemed": N_("Redeemed %(points)s points for %(item)s"),
    "mall_refunded": N_("Refunded %(points)s points for cancelled %(item)s"),
    "merged": N_("%(what)s moved from merged member record %(from_id)s to member %(to_id)s"),
    # parts of a purchase or refund
    "points_paid": N_("%(points)s points paid %(value_minor)s"),
    "stored_used": N_("%(amount_minor)s stored value used"),
    "growth_earned": N_("%(growth)s growth earned"),
    "points_earned": N_("%(points)s points earned"),
    "points_earned_pending": N_("%(points)s points earned (pending)"),
    "points_given_back": N_("%(points)s points given back"),
    "points_given_back_expired": N_(
        "%(points)s points given back (%(expired)s of them already expired)"
    ),
    "points_taken_back": N_("%(points)s points taken back"),
    "stored_back": N_("%(amount_minor)s stored value back"),
    "growth_taken_back": N_("%(growth)s growth taken back"),
    "nothing": N_("nothing"),
}
# A whole entry with its parts: "Order A-1: 120 points earned, 120 growth earned".
WITH_PARTS = N_("%(what)s: %(parts)s")
# Parts joined one by one: "120 points earned, 120 growth earned".
NEXT_PART = N_("%(earlier)s, %(next)s")
# What a merge moves, by asset ("Points moved from merged member record 7 to member 3").
ASSET_NAMES: dict[str, str] = {
    "points": N_("Points"),
    "points_pending": N_("Pending points"),
    "growth": N_("Growth"),
    "stored_principal": N_("Stored value"),
    "stored_bonus": N_("Bonus stored value"),
    "commission": N_("Commission"),
}


@dataclass(frozen=True)
class Words:
    """A phrase code, its figures, and (for a purchase or refund) the phrases of its parts."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    parts: tuple[Words, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "params": dict(self.params)}
        if self.parts:
            out["parts"] = [p.to_json() for p in self.parts]
        return out

    def english(self) -> str:
        """The English rendering (stored as the entry's ``description``)."""
        return render(self.to_json(), _identity, _english_number, _english_date)


def _identity(message: str) -> str:
    return message


def _english_number(value: int) -> str:
    return f"{value:,}" if abs(value) >= 10_000 else str(value)


def _english_date(value: date) -> str:
    return value.isoformat()


def _value(
    key: str,
    value: Any,
    currency: str | None,
    money: Callable[[int, str], str] | None,
    number: Callable[[int], str],
    day: Callable[[date], str],
) -> str:
    if key.endswith("_minor") and isinstance(value, int) and currency:
        return money(value, currency) if money else format_money(value, currency)
    if key.endswith("_on") and isinstance(value, str):
        try:
            return day(date.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, int) and not isinstance(value, bool) and key not in ("year",):
        return number(value)
    return str(value)


def render(
    words: dict[str, Any],
    gettext: Callable[[str], str],
    number: Callable[[int], str],
    day: Callable[[date], str],
    money: Callable[[int, str], str] | None = None,
) -> str:
    """``words`` (as stored) in the language of ``gettext``; figures through ``number``, ``day``
    and ``money(minor, currency)`` (default: Babel in English)."""
    code = words.get("code", "")
    params: dict[str, Any] = words.get("params") or {}
    currency = params.get("currency")
    shown = {
        k: _value(k, v, currency, money, number, day) for k, v in params.items() if k != "currency"
    }
    if code == "merged":
        shown["what"] = gettext(ASSET_NAMES.get(str(params.get("asset")), str(params.get("asset"))))
    phrase = PHRASES.get(code)
    text = gettext(phrase) % shown if phrase else code
    parts = words.get("parts")
    if parts is None:
        return text
    said = [render(p, gettext, number, day, money) for p in parts] or [gettext(PHRASES["nothing"])]
    joined = said[0]
    for part in said[1:]:
        joined = gettext(NEXT_PART) % {"earlier": joined, "next": part}
    return gettext(WITH_PARTS) % {"what": text, "parts": joined}
