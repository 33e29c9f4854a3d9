"""Member fields: how a domain describes something about a member that rules can test.

A field compiles ``(context, op, value)`` to a SQLAlchemy boolean over ``members``, so a rule is
evaluated by the database in one query. Domains register theirs with :func:`register_field`
(``programs``: tier and balances, ``coupons``: coupons held, ``analytics``: predictions…); the
segment rule language of ``engagement`` (``patron.engagement.segments.rules``) compiles rules
with them and finds the registering modules by name. The contract lives here, below every
domain, so that a domain describing its fields imports nothing above it (ADR 0920).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import Session

COMPARE = {"eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in"}


class ValueKind(StrEnum):
    """What a field's ``value`` is (``GET /api/v1/segments/fields`` lists it as ``kind``)."""

    TEXT = "text"
    CHOICE = "choice"  # one of a known list (a stage, a store id, a tier code…)
    COUNT = "count"  # a whole number (orders, points)
    NUMBER = "number"  # a decimal number
    MONEY = "money"  # minor units of the merchant's currency
    PROBABILITY = "probability"  # 0 to 1
    DAYS = "days"  # a number of days
    DATE = "date"  # an ISO date, YYYY-MM-DD, in the merchant's calendar
    TAG = "tag"
    YES_NO = "yes_no"  # true or false
    NONE = "none"  # no value to give (everyone)
    OBJECT = "object"  # several parts, e.g. {"days": 30, "count": 2}


@dataclass
class Context:
    """What a rule needs to compile: whose members, what time it is, how to load nested segments."""

    session: Session
    merchant_id: int
    now: datetime
    timezone: str
    depth: int = 0
    seen_segments: set[int] = field(default_factory=set)
    time_relative: bool = False


FieldCompiler = Callable[[Context, str, Any], ColumnElement[bool]]


@dataclass(frozen=True)
class FieldSpec:
    compile: FieldCompiler
    ops: frozenset[str]
    description: str
    time_relative: bool = False
    kind: ValueKind = ValueKind.TEXT


FIELDS: dict[str, FieldSpec] = {}


def register_field(
    name: str,
    ops: set[str],
    description: str,
    *,
    time_relative: bool = False,
    kind: ValueKind = ValueKind.TEXT,
) -> Callable[[FieldCompiler], FieldCompiler]:
    """Decorator: make ``name`` usable in segment rules, taking values of ``kind``."""

    def wrap(fn: FieldCompiler) -> FieldCompiler:
        FIELDS[name] = FieldSpec(fn, frozenset(ops), description, time_relative, kind)
        return fn

    return wrap


def _typed(column: Any, value: Any) -> Any:
    """``value`` if it has the column's type (a number for a count, text for a name), else a
    ValueError naming the type: a rule must not turn into a database error or a comparison that
    silently matches nobody (``orders_count > 'three'``)."""
    try:
        python_type = column.type.python_type
    except (AttributeError, NotImplementedError):
        return value
    if python_type in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"a number, not {value!r}")
    elif python_type is str and not isinstance(value, str):
        raise ValueError(f"text, not {value!r}")
    return value


def compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    """``column <op> value`` for the comparison operators; ``eq``/``ne`` null mean "is empty" /
    "is not empty"."""
    if op in ("eq", "ne") and value is None:
        return column.is_(None) if op == "eq" else column.is_not(None)  # type: ignore[no-any-return]
    if op in ("between", "in", "not_in"):
        items = _as_list(value)
        if op == "between" and len(items) != 2:
            raise ValueError("between takes [low, high]")
        value = [_typed(column, v) for v in items]
    else:
        value = _typed(column, value)
    if op == "eq":
        return column == value  # type: ignore[no-any-return]
    if op == "ne":
        return or_(column != value, column.is_(None))
    if op == "gt":
        return column > value  # type: ignore[no-any-return]
    if op == "gte":
        return column >= value  # type: ignore[no-any-return]
    if op == "lt":
        return column < value  # type: ignore[no-any-return]
    if op == "lte":
        return column <= value  # type: ignore[no-any-return]
    if op == "between":
        low, high = value
        return column.between(low, high)  # type: ignore[no-any-return]
    if op == "in":
        return column.in_(_as_list(value))  # type: ignore[no-any-return]
    if op == "not_in":
        return or_(column.not_in(_as_list(value)), column.is_(None))
    raise ValueError(f"unsupported op {op}")


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ValueError("a non-empty list")
    return value
