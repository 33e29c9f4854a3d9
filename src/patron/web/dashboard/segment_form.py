"""The segment builder's rows read into rules and back: money typed in major units becomes
minor units, a percentage becomes a probability, dates stay ISO days, choices come from lists.

A row is posted as ``r<i>-field``, ``r<i>-op``, ``r<i>-value`` (several for "is one of"),
``r<i>-high`` (the upper end of "between"), ``r<i>-days`` (a period) and ``r<i>-part`` (the
first part of a two-part value: a preference kind, a consent channel, an RFM letter). The
stored rule document and the API are unchanged (ADR 0610).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from patron.core.member_fields import FIELDS
from patron.i18n import N_
from patron.web.dashboard.program_fields import Unreadable, money_text, read_value
from patron.web.dashboard.program_forms import Field
from patron.web.dashboard.segment_words import (
    FIELD_WORDS,
    ID_CHOICES,
    VALUE_KEYS,
    FieldWords,
    words_for,
)

JOINS = ("all", "any")
MAX_RULES = 30
MULTI = ("in", "not_in")
NUMERIC = frozenset({"count", "number", "money", "percent", "days"})
_ROW = re.compile(r"^r(\d{1,3})-field$")


@dataclasses.dataclass
class Row:
    """One rule as the builder's inputs hold it (all text)."""

    field: str = ""
    op: str = ""
    values: list[str] = dataclasses.field(default_factory=list)
    high: str = ""
    days: str = ""
    part: str = ""

    @property
    def value(self) -> str:
        return self.values[0] if self.values else ""


class RowError(Exception):
    """Row ``number`` (from 1) cannot be read: ``reason`` is an English msgid."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(reason)
        self.number = number
        self.reason = reason


def rows_from_form(form: Any) -> list[Row]:
    """The rows of a posted builder form, in the order they were numbered."""
    indexes = sorted(int(m.group(1)) for key in form if (m := _ROW.match(key)))
    rows = []
    for i in indexes:
        values = [str(v) for v in form.getlist(f"r{i}-value")]
        rows.append(
            Row(
                field=str(form.get(f"r{i}-field", "")).strip(),
                op=str(form.get(f"r{i}-op", "")).strip(),
                values=[v.strip() for v in values],
                high=str(form.get(f"r{i}-high", "")).strip(),
                days=str(form.get(f"r{i}-days", "")).strip(),
                part=str(form.get(f"r{i}-part", "")).strip(),
            )
        )
    return rows


def _number(widget: str, text: str, digits: int) -> Any:
    """A typed amount as the rule stores it."""
    if widget == "money":
        return read_value(Field("value", "", "money"), text, digits)
    if widget in ("count", "days"):
        whole = read_value(Field("value", "", "int"), text, digits)
        if widget == "days" and whole < 0:
            raise Unreadable(N_("Enter a number of days, 0 or more."))
        return whole
    amount = Decimal(read_value(Field("value", "", "decimal"), text, digits))
    if widget == "percent":
        if not 0 <= amount <= 100:
            raise Unreadable(N_("Enter a percentage from 0 to 100."))
        return float(amount / 100)
    return float(amount)


def _amounts(widget: str, row: Row, digits: int) -> Any:
    if row.op == "between":
        return [_number(widget, row.value, digits), _number(widget, row.high, digits)]
    return _number(widget, row.value, digits)


def _picked(words: FieldWords, row: Row) -> Any:
    values = [v for v in row.values if v]
    if words.widget == "text" and row.op in MULTI:
        values = [p.strip() for v in values for p in v.replace("，", ",").split(",") if p.strip()]
    if not values:
        raise Unreadable(N_("Choose a value."))
    if words.choices in ID_CHOICES:
        if not all(v.isdigit() for v in values):
            raise Unreadable(N_("Choose a value."))
        return [int(v) for v in values] if row.op in MULTI else int(values[0])
    return values if row.op in MULTI else values[0]


def _date(text: str) -> str:
    return str(read_value(Field("value", "", "date"), text, 0))


def _whole(text: str, minimum: int) -> int:
    value = int(read_value(Field("value", "", "int"), text, 0))
    if value < minimum:
        raise Unreadable(N_("Enter a number of days, 1 or more."))
    return value


def _value(name: str, words: FieldWords, row: Row, digits: int) -> Any:
    widget = words.widget
    if widget == "none":
        return True
    if widget == "yes_no":
        return row.value == "yes"
    if widget in ("text", "choice", "tag"):
        return _picked(words, row)
    if widget in NUMERIC:
        return _amounts(widget, row, digits)
    if widget == "date":
        return [_date(row.value), _date(row.high)] if row.op == "between" else _date(row.value)
    if widget == "bought":
        chosen = {VALUE_KEYS[name]: _picked(words, Row(values=row.values))}
        return chosen | ({"days": _whole(row.days, 1)} if row.op == "within_days" else {})
    if widget in ("window_count", "window_money"):
        amount = _amounts("count" if widget == "window_count" else "money", row, digits)
        return {"days": _whole(row.days, 1), VALUE_KEYS[name]: amount}
    if widget == "preference":
        return {"kind": row.part, "value": _picked(words, Row(values=row.values))}
    if widget == "consent":
        return {"channel": row.part, "topic": row.value or "marketing"}
    if widget == "rfm_score":
        return {"score": row.part, "value": _amounts("count", row, digits)}
    raise Unreadable(N_("Choose a value."))


def rule_of(number: int, row: Row, digits: int) -> dict[str, Any]:
    """One row as a field rule (raises :class:`RowError`)."""
    spec = FIELDS.get(row.field)
    if spec is None:
        raise RowError(number, N_("Choose a field."))
    if row.op not in spec.ops:
        raise RowError(number, N_("Choose a condition."))
    try:
        value = _value(row.field, words_for(row.field), row, digits)
    except Unreadable as exc:
        raise RowError(number, str(exc.args[0])) from exc
    return {"field": row.field, "op": row.op, "value": value}


def rules_of(join: str, rows: list[Row], digits: int) -> dict[str, Any]:
    """The rule document of the builder's rows (rows without a field are blank and skipped)."""
    if join not in JOINS:
        raise RowError(0, N_("Choose whether all or any of the rules must hold."))
    filled = [(n, row) for n, row in enumerate(rows, start=1) if row.field]
    if not filled:
        raise RowError(0, N_("Add at least one rule."))
    if len(filled) > MAX_RULES:
        raise RowError(0, N_("At most 30 rules."))
    return {join: [rule_of(n, row, digits) for n, row in filled]}


# ---------- stored rules shown in the inputs ----------


def _text(widget: str, value: Any, digits: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    if widget == "money":
        return money_text(int(value), digits)
    if widget == "percent":
        return format(Decimal(str(value)) * 100, "f").rstrip("0").rstrip(".") or "0"
    return str(value)


def _numbers_row(widget: str, row: Row, value: Any, digits: int) -> None:
    if row.op == "between":
        low, high = value
        row.values, row.high = [_text(widget, low, digits)], _text(widget, high, digits)
    else:
        row.values = [_text(widget, value, digits)]


def _fill(name: str, words: FieldWords, row: Row, value: Any, digits: int) -> None:
    widget = words.widget
    if widget == "yes_no":
        row.values = ["yes" if value is True else "no"]
    elif widget in ("text", "choice", "tag"):
        items = value if isinstance(value, list) else [value]
        texts = [str(v) for v in items]
        row.values = [", ".join(texts)] if widget == "text" else texts
    elif widget in NUMERIC:
        _numbers_row(widget, row, value, digits)
    elif widget == "date":
        row.values, row.high = ([value[0]], value[1]) if row.op == "between" else ([value], "")
    elif widget == "bought":
        row.values, row.days = [str(value[VALUE_KEYS[name]])], str(value.get("days", ""))
    elif widget in ("window_count", "window_money"):
        row.days = str(value["days"])
        inner = "count" if widget == "window_count" else "money"
        _numbers_row(inner, row, value[VALUE_KEYS[name]], digits)
    elif widget == "preference":
        row.part, row.values = str(value["kind"]), [str(value["value"])]
    elif widget == "consent":
        row.part, row.values = str(value["channel"]), [str(value.get("topic", "marketing"))]
    elif widget == "rfm_score":
        row.part = str(value["score"])
        _numbers_row("count", row, value["value"], digits)


def row_of(rule: Mapping[str, Any], digits: int) -> Row | None:
    """A stored field rule as the builder's inputs, or None when the builder cannot show it
    (an unknown field, a value of an unexpected shape)."""
    name, op = rule.get("field"), rule.get("op")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None or op not in spec.ops or name not in FIELD_WORDS:
        return None
    row = Row(field=str(name), op=str(op))
    try:
        _fill(row.field, words_for(row.field), row, rule.get("value"), digits)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return row


def rows_of(rules: Mapping[str, Any], digits: int) -> tuple[str, list[Row]] | None:
    """The builder's rows of stored rules, or None when they are more than one flat group of
    field rules the builder can show (they are then shown read-only, in words)."""
    if len(rules) != 1:
        return None
    join, parts = next(iter(rules.items()))
    if join not in JOINS or not isinstance(parts, list):
        return None
    rows = [row_of(p, digits) if isinstance(p, dict) else None for p in parts]
    if not rows or any(r is None for r in rows):
        return None
    return join, [r for r in rows if r is not None]
