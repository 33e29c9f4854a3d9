"""Comparing like with like: a span of days against the same span one period earlier (ADR 0505).

The analytics cards compare the window's last period with the one before; when the last period
is still running (the 1st to the 7th of this month), the previous period is cut to the same days
(the 1st to the 7th of last month), never taken whole. The overview compares the last N days
with the N days before them. :func:`span_figures` computes the figures of several spans with the
same definitions as the window figures (:func:`patron.analytics.metrics.span_summary`).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from patron.analytics.facts import (
    Facts,
    Period,
    Scope,
    date_period_index,
    period_start,
    ratio,
)
from patron.analytics.metrics import member_activity, span_summary


@dataclass(frozen=True)
class Span:
    """Local dates [start, end), and the span whose customers its retention is measured on."""

    start: date
    end: date
    base_start: date
    base_end: date

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)


def _period_length(index: int, period: Period) -> int:
    if period == "month":
        first = period_start(index, "month")
        return calendar.monthrange(first.year, first.month)[1]
    return 7 if period == "week" else 1


def like_for_like(start: date, end: date, period: Period) -> tuple[Span, Span]:
    """The last period of the window [start, end) — cut to the window — and the same days of the
    period before: days 1–7 of a month against days 1–7 of the previous month, Monday–Wednesday
    against the previous Monday–Wednesday. A complete period is compared with the complete
    period before (a whole month with a whole month, whatever their lengths); days past the end
    of a shorter previous month are cut off. Retention is measured on the whole period before
    each span (the previous month's customers, for days 1–7 of this one)."""
    last_index = date_period_index(end - timedelta(days=1), period)
    opens = period_start(last_index, period)
    c0, c1 = max(start, opens), end
    o0, o1 = (c0 - opens).days, (c1 - opens).days
    whole = o1 == _period_length(last_index, period)
    before = period_start(last_index - 1, period)
    length = _period_length(last_index - 1, period)
    p0 = before + timedelta(days=min(o0, length - 1))
    p1 = before + timedelta(days=length if whole else min(o1, length))
    earlier = period_start(last_index - 2, period)
    return Span(c0, c1, before, opens), Span(p0, p1, earlier, before)


def equal_spans(today: date, days: int) -> tuple[Span, Span]:
    """The ``days`` days up to and including ``today``, and the ``days`` days before them."""
    end = today + timedelta(days=1)
    cur0 = end - timedelta(days=days)
    prev0 = cur0 - timedelta(days=days)
    return Span(cur0, end, prev0, cur0), Span(prev0, cur0, prev0 - timedelta(days=days), prev0)


def span_figures(
    con: Any, scope: Scope, spans: Sequence[Span], facts: Facts | None = None
) -> ir.Table:
    """One row per span (``span`` = its position): the window figures of
    :func:`patron.analytics.metrics.span_summary`, plus ``base_customers`` (customers of the
    span's base), ``retained_customers`` (of them, those who bought in the span),
    ``retention_rate`` and ``active_members`` (distinct members active in the span:
    :func:`patron.analytics.metrics.member_activity`). The scope gives the merchant and the
    filters; its window is not used."""
    rows = []
    for i, span in enumerate(spans):
        inner = Scope(scope.merchant_id, span.base_start, span.end, scope.period, scope.filters)
        f = facts if facts is not None else Facts(con, inner)
        summary = span_summary(f, _ts(span.start), _ts(span.end))
        rows.append(
            summary.cross_join(_retention(f, span))
            .cross_join(_active(con, inner, span, f))
            .mutate(span=ibis.literal(i, "int64"))
        )
    out = rows[0]
    for r in rows[1:]:
        out = out.union(r)
    return out.mutate(retention_rate=ratio(out.retained_customers, out.base_customers)).order_by(
        "span"
    )


def _ts(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time())


def _between(t: ir.Table, start: date, end: date) -> ir.Table:
    return t.filter(
        (t.placed_local >= ibis.literal(_ts(start))) & (t.placed_local < ibis.literal(_ts(end)))
    )


def _retention(f: Facts, span: Span) -> ir.Table:
    p = f.purchases.filter(f.purchases.member_id.notnull())
    base = _between(p, span.base_start, span.base_end).select("member_id").distinct()
    came = _between(p, span.start, span.end).select(came_member="member_id").distinct()
    j = base.left_join(came, base.member_id == came.came_member)
    return j.aggregate(
        base_customers=j.count(),
        retained_customers=j.came_member.notnull().cast("int64").sum().fill_null(0),
    )


def _active(con: Any, inner: Scope, span: Span, f: Facts) -> ir.Table:
    window = Scope(inner.merchant_id, span.start, span.end, inner.period, inner.filters)
    a = member_activity(con, window, f)
    return a.aggregate(active_members=a.member_id.nunique())
