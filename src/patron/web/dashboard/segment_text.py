"""Segment rules in words: "Total spent at least ¥500.00", "Last purchase more than 90 days
ago", nested groups as "All of these: / Any of these: / None of these:". Any rule document the
API accepts reads in words, including ones the builder cannot edit (ADR 0610)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from babel.lists import format_list

from patron.i18n import N_, Formatter
from patron.i18n.labels import humanise
from patron.web.dashboard.segment_choices import Choices
from patron.web.dashboard.segment_words import VALUE_KEYS, WINDOW_LABELS, op_words, words_for

Tr = Callable[..., str]


@dataclass
class Said:
    """A rule in words; a group holds its parts."""

    text: str
    parts: list[Said] = field(default_factory=list)


@dataclass(frozen=True)
class Reader:
    """Who reads the words: their translator and formatter, the merchant's lists, and the
    names of the merchant's segments (for ``{"segment": id}``)."""

    tr: Tr
    fmt: Formatter
    choices: Choices
    segments: dict[int, str]

    def label(self, list_name: str, value: Any) -> str:
        for code, label in self.choices.get(list_name, []):
            if code == str(value):
                return label
        if list_name == "language":
            return self.fmt.language_name(str(value))  # a language no member has yet
        return humanise(str(value)) if list_name else str(value)

    def quoted(self, value: Any) -> str:
        return self.tr(N_("“%(text)s”"), text=value)


GROUPS = {"all": N_("All of these:"), "any": N_("Any of these:")}


def describe(rule: Any, reader: Reader) -> Said:
    """``rule`` (any rule document) in the reader's words."""
    if not isinstance(rule, dict) or not rule:
        return Said(reader.tr(N_("A rule that cannot be read")))
    for join, heading in GROUPS.items():
        if join in rule and isinstance(rule[join], list):
            return Said(reader.tr(heading), [describe(p, reader) for p in rule[join]])
    if "not" in rule:
        return Said(reader.tr(N_("None of these:")), [describe(rule["not"], reader)])
    if "segment" in rule:
        name = reader.segments.get(rule["segment"]) if isinstance(rule["segment"], int) else None
        shown = reader.quoted(name) if name else "—"
        return Said(reader.tr(N_("In the segment %(name)s"), name=shown))
    return Said(sentence(rule, reader))


def _one(widget: str, value: Any, list_name: str, reader: Reader) -> str:
    fmt = reader.fmt
    if widget == "money":
        return fmt.money(int(value))
    if widget == "percent":
        return fmt.number(Decimal(str(value)) * 100) + "%"
    if widget in ("count", "number", "days", "window_count", "rfm_score"):
        return fmt.number(value)
    if widget == "window_money":
        return fmt.money(int(value))
    if widget == "date":
        return fmt.date(date.fromisoformat(str(value)))
    if widget == "yes_no":
        return reader.tr(N_("Yes") if value is True else N_("No"))
    if widget in ("text", "tag", "preference"):
        return reader.quoted(value)
    return reader.label(list_name, value)


def _params(widget: str, value: Any, list_name: str, reader: Reader) -> dict[str, str]:
    if isinstance(value, list) and len(value) == 2 and widget not in ("text", "choice", "tag"):
        low, high = (_one(widget, v, list_name, reader) for v in value)
        return {"low": low, "high": high, "value": f"{low}–{high}", "n": f"{low}–{high}"}
    if isinstance(value, list):
        items = [_one(widget, v, list_name, reader) for v in value]
        joined = str(format_list(items, style="or", locale=reader.fmt.locale))
        return {"value": joined, "n": joined}
    shown = _one(widget, value, list_name, reader)
    return {"value": shown, "n": shown}


def _parts(name: str, op: str, value: Any, reader: Reader) -> dict[str, str]:
    """The words a several-part value fills into its sentence."""
    words = words_for(name)
    widget = words.widget
    if widget == "bought":
        picked = reader.label(words.choices, value[VALUE_KEYS[name]])
        return {"value": reader.quoted(picked), "n": reader.fmt.number(value.get("days", 0))}
    if widget in ("window_count", "window_money"):
        label = reader.tr(WINDOW_LABELS[name], n=reader.fmt.number(value["days"]))
        return {"field": label, **_params(widget, value[VALUE_KEYS[name]], "", reader)}
    if widget == "preference":
        return {
            "kind": reader.label("pref_kind", value["kind"]),
            "value": reader.quoted(value["value"]),
        }
    if widget == "consent":
        return {
            "channel": reader.label("channel", value["channel"]),
            "topic": reader.label("topic", value.get("topic", "marketing")),
        }
    if widget == "rfm_score":
        field_label = reader.label("rfm_letter", value["score"])
        return {"field": field_label, **_params(widget, value["value"], "", reader)}
    return _params(widget, value, words.choices, reader)


def sentence(rule: dict[str, Any], reader: Reader) -> str:
    """One field rule as a sentence: "Total spent at least ¥500.00"."""
    name, op, value = str(rule.get("field")), str(rule.get("op")), rule.get("value")
    words = words_for(name)
    params = {"field": reader.tr(words.label), "value": "", "low": "", "high": "", "n": ""}
    params |= {"kind": "", "channel": "", "topic": ""}
    try:
        params |= _parts(name, op, value, reader)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        params["value"] = params["n"] = str(value)
    return reader.tr(op_words(words.words, op)[1], **params)
