"""Finding and replacing one person's name, phone, email and ids inside stored text and JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

ERASED = "[erased]"
# Values shorter than this are replaced only where they are a whole value (a one-character
# surname inside any text would take too much with it).
_MIN_INSIDE = 2


def _spellings(phone: str) -> list[str]:
    """A stored E.164 phone and its national spelling (what a CSV row or a till may carry)."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return [phone]
    return [phone, str(parsed.national_number)]


def personal_strings(
    first_name: str | None,
    last_name: str | None,
    phone: str | None,
    email: str | None,
    address: dict[str, Any] | None,
    others: Iterable[str] = (),
) -> list[str]:
    """The strings that name or reach this person, longest first."""
    found: set[str] = set()
    first, last = (first_name or "").strip(), (last_name or "").strip()
    found.update(p for p in (first, last) if p)
    if first and last:
        found.update({f"{first} {last}", f"{last} {first}", f"{last}{first}", f"{first}{last}"})
    if phone:
        found.update(_spellings(phone))
    if email:
        found.add(email)
    # The street lines name the home; a city or a country alone does not, and replacing
    # them would blank every order shipped to the same city.
    for key in ("line1", "line2"):
        value = (address or {}).get(key)
        if isinstance(value, str) and value.strip():
            found.add(value.strip())
    found.update(o.strip() for o in others if o and o.strip())
    return sorted(found, key=lambda s: (-len(s), s))


def _pattern(needle: str) -> re.Pattern[str]:
    escaped = re.escape(needle)
    if needle.isascii():  # a Latin name is a word: "Li" must not take "Lines" with it
        return re.compile(rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])", re.IGNORECASE)
    return re.compile(escaped)


@dataclass
class Scrubber:
    """Replaces every personal string in a value (strings, and strings inside JSON)."""

    needles: list[str]
    _patterns: list[tuple[str, re.Pattern[str]]] = field(init=False)

    def __post_init__(self) -> None:
        self._patterns = [(n, _pattern(n)) for n in self.needles]

    def __bool__(self) -> bool:
        return bool(self.needles)

    def text(self, value: str) -> str:
        if value.strip() in self.needles:
            return ERASED
        for needle, pattern in self._patterns:
            if len(needle) >= _MIN_INSIDE:
                value = pattern.sub(ERASED, value)
        return value

    def value(self, value: Any) -> Any:
        """``value`` with every personal string replaced (the same object type back)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def like_terms(self) -> list[str]:
        """What to look for with LIKE in a stored text or JSON column: each needle long enough
        to be distinctive, as written and as JSON escapes it (``\\u738b`` on SQLite)."""
        terms: set[str] = set()
        for needle in self.needles:
            if len(needle) >= 4 or not needle.isascii():
                terms.add(needle)
                terms.add(json.dumps(needle)[1:-1])
        return sorted(terms)
