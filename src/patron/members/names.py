"""How a member's name is shown: in the order of its script (ADR 0620).

Chinese and Japanese names are written family name first with no space (周悦, 山田花子); Korean
names family name first with a space (김 민수); names in other scripts given name first (Carol
Smith). The order follows the family name's script: a family name in Han, kana or Hangul goes
first. Every place that shows a member's name (dashboard, portal, API, receipts, messages) goes
through :func:`display_name`; greetings go through :func:`greeting_name`.
"""

from __future__ import annotations

import unicodedata

# Unicode character names start with the script for the letters that matter here.
_IDEOGRAPHIC = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA")
_HANGUL = ("HANGUL",)


def _script(text: str) -> str:
    """``ideographic`` (Han, kana), ``hangul`` or ``other``: the script of the first letter."""
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        if name.startswith(_IDEOGRAPHIC):
            return "ideographic"
        if name.startswith(_HANGUL):
            return "hangul"
        return "other"
    return "other"


def _clean(part: str | None) -> str:
    return (part or "").strip()


def family_first(given: str | None, family: str | None) -> bool:
    """Whether this name is written family name first (an East Asian family name)."""
    return _script(_clean(family)) != "other"


def display_name(given: str | None, family: str | None) -> str:
    """The full name in the order of its script; ``""`` when neither part is known."""
    g, f = _clean(given), _clean(family)
    if not (g and f):
        return g or f
    if not family_first(g, f):
        return f"{g} {f}"
    tight = _script(f) == "ideographic" and _script(g) == "ideographic"
    return f"{f}{g}" if tight else f"{f} {g}"


def greeting_name(given: str | None, family: str | None) -> str:
    """The name a greeting uses: the given name where that is the custom ("Hello, Carol"), the
    full name for a name written family name first ("周悦，您好"), since a bare given name
    reads as over-familiar there and a bare family name is not a greeting either."""
    g, f = _clean(given), _clean(family)
    if g and f and not family_first(g, f):
        return g
    return display_name(g, f)
