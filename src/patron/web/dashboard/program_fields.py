"""Program settings forms: a stored setting as the inputs show it, and a submitted form read
back into a setting (money from major to minor units with the currency's exponent)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from patron.i18n import N_
from patron.programs.config import Kind
from patron.web.dashboard.program_forms import BLANK_ROWS, FORMS, Field, Parsed, Rows

# ---------- values shown in the form ----------


def _get(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def money_text(minor: int | None, digits: int) -> str:
    if minor is None:
        return ""
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"


def shown(f: Field, value: Any, digits: int) -> Any:
    """A stored value as the form shows it (text; a list for day pickers; bool for boxes)."""
    if f.kind in {"days", "weekdays"}:
        return [str(v) for v in value or []]
    if f.kind == "bool":
        return bool(value)
    if value is None:
        return ""
    if f.kind in {"money", "opt_money"}:
        return money_text(int(value), digits)
    if f.kind in {"csv", "int_list"}:
        return ", ".join(str(v) for v in value)
    return str(value)


def form_values(kind: Kind, config: Mapping[str, Any], digits: int) -> dict[str, Any]:
    """Input name -> what the input shows, for a stored setting."""
    values: dict[str, Any] = {}
    for section in FORMS[kind]:
        for item in section.items:
            if isinstance(item, Field):
                values[item.key] = shown(item, _get(config, item.key), digits)
                continue
            for i, row in enumerate(_get(config, item.key) or []):
                for f in item.fields:
                    values[f"{item.key}-{i}-{f.key}"] = shown(f, row.get(f.key), digits)
    return values


def row_count(kind: Kind, values: Mapping[str, Any], rows: Rows) -> int:
    """How many rows to draw: those holding values, plus blank ones to add more."""
    used = {
        int(name.split("-")[1])
        for name in values
        if name.startswith(rows.key + "-") and name.count("-") >= 2
    }
    return (max(used) + 1 if used else 0) + BLANK_ROWS


# ---------- reading a submitted form ----------


class Unreadable(ValueError):
    """The text of one input is not what its field needs (``args[0]`` is an English msgid)."""


def _int(text: str) -> int:
    try:
        return int(text.replace(",", "").strip())
    except ValueError as exc:
        raise Unreadable(N_("Enter a whole number.")) from exc


def _money(text: str, digits: int) -> int:
    try:
        amount = Decimal(text.replace(",", "").strip())
    except InvalidOperation as exc:
        raise Unreadable(N_("Enter an amount, like 12.50.")) from exc
    minor = amount.scaleb(digits)
    if not amount.is_finite() or minor != minor.to_integral_value():
        raise Unreadable(N_("Enter an amount, like 12.50."))
    return int(minor)


def _decimal(text: str) -> str:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise Unreadable(N_("Enter a number, like 1.5.")) from exc
    if not value.is_finite():
        raise Unreadable(N_("Enter a number, like 1.5."))
    return str(value)


def _date(text: str) -> str:
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError as exc:
        raise Unreadable(N_("Enter a date.")) from exc


def read_value(f: Field, raw: Any, digits: int) -> Any:
    """One input's text as the setting's value (raises :class:`Unreadable`)."""
    if f.kind in {"days", "weekdays"}:
        return sorted({_int(v) for v in ([raw] if isinstance(raw, str) else raw or [])})
    if f.kind == "bool":
        return raw in {"on", "true", "1"}
    text = (raw or "").strip()
    if f.kind == "csv":
        return [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]
    if f.kind == "int_list":
        return [_int(p) for p in text.replace("，", ",").split(",") if p.strip()]
    if f.kind in {"text", "choice"}:
        return text
    if f.kind == "coupon":
        return _int(text) if text else None
    if not text:
        if f.kind in {"opt_int", "opt_text", "opt_money", "date"}:
            return None
        raise Unreadable(N_("This is needed."))
    readers: dict[str, Callable[[str], Any]] = {
        "int": _int,
        "opt_int": _int,
        "money": lambda t: _money(t, digits),
        "opt_money": lambda t: _money(t, digits),
        "decimal": _decimal,
        "opt_text": str,
        "date": _date,
    }
    return readers[f.kind](text)


def _row_is_blank(rows: Rows, form: Mapping[str, Any], i: int) -> bool:
    for f in rows.fields:
        raw = form.get(f"{rows.key}-{i}-{f.key}")
        if f.kind in {"bool", "choice"}:
            continue  # a box or a menu always has a value; only typed text marks a row used
        # (a coupon menu starts at "none": choosing one marks the row used)
        if isinstance(raw, str) and raw.strip():
            return False
    return True


def _read_rows(rows: Rows, form: Mapping[str, Any], digits: int, out: Parsed) -> None:
    indexes = sorted(
        {int(n.split("-")[1]) for n in form if n.startswith(rows.key + "-") and n.count("-") >= 2}
    )
    found: list[dict[str, Any]] = []
    for i in indexes:
        if _row_is_blank(rows, form, i):
            continue
        row: dict[str, Any] = {}
        for f in rows.fields:
            name = f"{rows.key}-{i}-{f.key}"
            try:
                value = read_value(f, form.get(name), digits)
            except Unreadable as exc:
                # Row errors are keyed by the row's position in the saved list, as the service
                # reports them, so they show on the row the merchant typed in.
                out.errors[f"{rows.key}.{len(found)}.{f.key}"] = exc.args[0]
                continue
            if value is not None and value != "":
                row[f.key] = value
        found.append(row)
    _set(out.config, rows.key, found)


def read_form(kind: Kind, form: Mapping[str, Any], digits: int) -> Parsed:
    """The setting a submitted form describes. ``form`` maps input names to text (a list of
    texts for day pickers)."""
    out = Parsed()
    for section in FORMS[kind]:
        for item in section.items:
            if isinstance(item, Rows):
                _read_rows(item, form, digits, out)
                continue
            try:
                value = read_value(item, form.get(item.key), digits)
            except Unreadable as exc:
                out.errors[item.key] = exc.args[0]
                continue
            if value is not None:
                _set(out.config, item.key, value)
    return out


def _list_fields(kind: Kind) -> set[str]:
    return {
        item.key
        for section in FORMS[kind]
        for item in section.items
        if isinstance(item, Field) and item.kind in {"days", "weekdays"}
    }


def form_mapping(kind: Kind, form: Any) -> dict[str, Any]:
    """A submitted ``FormData`` as input name -> text (a list of texts for day pickers)."""
    lists = _list_fields(kind)
    return {
        name: (list(form.getlist(name)) if name in lists else form.get(name))
        for name in form
        if name != "csrf_token"
    }


def submitted_values(kind: Kind, form: Mapping[str, Any]) -> dict[str, Any]:
    """What the merchant typed, to show again next to the errors. Rows are renumbered without
    the blank ones, as the service numbers them in its errors."""
    values: dict[str, Any] = {}
    for section in FORMS[kind]:
        for item in section.items:
            if isinstance(item, Field):
                raw = form.get(item.key)
                values[item.key] = (
                    raw in {"on", "true", "1"}
                    if item.kind == "bool"
                    else raw or ([] if item.kind in {"days", "weekdays"} else "")
                )
                continue
            indexes = sorted(
                {
                    int(n.split("-")[1])
                    for n in form
                    if n.startswith(item.key + "-") and n.count("-") >= 2
                }
            )
            kept = [i for i in indexes if not _row_is_blank(item, form, i)]
            for position, i in enumerate(kept):
                for f in item.fields:
                    raw = form.get(f"{item.key}-{i}-{f.key}")
                    values[f"{item.key}-{position}-{f.key}"] = (
                        raw in {"on", "true", "1"} if f.kind == "bool" else raw or ""
                    )
    return values
