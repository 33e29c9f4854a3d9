"""Segment rule fields over calendar days: "last purchase before 1 March", "joined on …".

Days are the merchant's calendar days (its time zone), so "on 2026-03-01" in Shanghai is
16:00 UTC on 28 February to 16:00 UTC on 1 March. These rules do not move with the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_

from patron.core.member_fields import Context, FieldCompiler, ValueKind, register_field
from patron.engagement.segments.rules import DATE_OPS
from patron.members.models import Member


def day_start(ctx: Context, value: Any) -> datetime:
    """The start (UTC) of the merchant's calendar day ``value`` (``YYYY-MM-DD``)."""
    if not isinstance(value, str):
        raise ValueError(f"a date YYYY-MM-DD, not {value!r}")
    day = date.fromisoformat(value)
    return datetime.combine(day, time.min, ZoneInfo(ctx.timezone)).astimezone(UTC)


def _next_day(ctx: Context, value: Any) -> datetime:
    zone = ZoneInfo(ctx.timezone)
    following = day_start(ctx, value).astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(following, time.min, zone).astimezone(UTC)


def _on_dates(column: Any) -> FieldCompiler:
    """``before`` / ``after`` a day (that day excluded), ``on`` a day, ``between`` two days
    (both included)."""

    def build(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise ValueError("between takes [first day, last day]")
            cond = and_(column >= day_start(ctx, value[0]), column < _next_day(ctx, value[1]))
        elif op == "before":
            cond = column < day_start(ctx, value)
        elif op == "after":
            cond = column >= _next_day(ctx, value)
        else:
            cond = and_(column >= day_start(ctx, value), column < _next_day(ctx, value))
        return and_(column.is_not(None), cond)

    return build


CALENDAR_FIELDS: tuple[tuple[str, Any, str], ...] = (
    ("last_order_date", Member.last_order_at, "date of the last purchase (merchant calendar)"),
    ("first_order_date", Member.first_order_at, "date of the first purchase (merchant calendar)"),
    ("registered_date", Member.registered_at, "date of registration (merchant calendar)"),
)
for _name, _column, _label in CALENDAR_FIELDS:
    register_field(_name, DATE_OPS, _label, kind=ValueKind.DATE)(_on_dates(_column))
