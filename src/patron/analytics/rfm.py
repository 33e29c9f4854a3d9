"""RFM: recency, frequency and monetary quintile scores and named segments.

Scores share ties: ``score = 1 + floor(5 × worse / n)`` where ``worse`` is the number of
customers with a strictly worse value and ``n`` the customers scored. Equal customers always
get equal scores, whatever their ids (ADR 0502 explains why not a plain NTILE).
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from patron.analytics.facts import EPOCH, Facts, Scope

# (segment, R scores, FM scores), first match wins; FM = floor((F + M) / 2). Covers all 25 cells.
SEGMENT_RULES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("champions", (5,), (4, 5)),
    ("loyal", (3, 4), (4, 5)),
    ("potential_loyalist", (4, 5), (2, 3)),
    ("new", (5,), (1,)),
    ("promising", (4,), (1,)),
    ("need_attention", (3,), (3,)),
    ("about_to_sleep", (3,), (1, 2)),
    ("cant_lose", (1, 2), (5,)),
    ("at_risk", (1, 2), (3, 4)),
    ("hibernating", (2,), (1, 2)),
    ("lost", (1,), (1, 2)),
)
SEGMENTS = tuple(name for name, _r, _fm in SEGMENT_RULES)


def _score(value: ir.NumericValue, n: ir.IntegerValue) -> ir.IntegerValue:
    worse = ibis.rank().over(ibis.window(order_by=value))  # 0-based, ties share the lowest rank
    return (1 + (worse * 5) // n).cast("int64")


def rfm_scores(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """Per customer who bought in the window: values, R/F/M scores and segment.

    Recency is whole local days from the last purchase to the window's last day (0 = bought
    on that day; lower is better); frequency is the number of purchases; monetary the net revenue.
    """
    wc = (facts or Facts(con, scope)).window_customers
    per = wc.select("member_id", "last_day", frequency=wc.orders, monetary_minor=wc.revenue)
    last_window_day = (scope.end - EPOCH).days - 1
    n = per.count().over()
    s = per.mutate(
        recency_days=(last_window_day - per.last_day).cast("int64"),
        r=_score(per.last_day, n),
        f=_score(per.frequency, n),
        m=_score(per.monetary_minor, n),
    )
    fm = (s.f + s.m) // 2
    segment = ibis.cases(
        *[(s.r.isin(list(rs)) & fm.isin(list(fms)), name) for name, rs, fms in SEGMENT_RULES],
        else_="lost",
    )
    return s.select(
        "member_id",
        "recency_days",
        "frequency",
        "monetary_minor",
        "r",
        "f",
        "m",
        fm=fm.cast("int64"),
        segment=segment,
    )


def rfm_segments(scores: ir.Table) -> ir.Table:
    """``segment, customers, revenue_minor, customer_share, revenue_share``."""
    g = scores.group_by("segment").aggregate(
        customers=scores.count(), revenue_minor=scores.monetary_minor.sum()
    )
    return g.mutate(
        customer_share=g.customers.cast("float64") / g.customers.sum().over().cast("float64"),
        revenue_share=g.revenue_minor.cast("float64")
        / g.revenue_minor.sum().over().cast("float64"),
    ).order_by("segment")


def rfm_grid(scores: ir.Table) -> ir.Table:
    """``r, fm, customers, revenue_minor``: the 5 × 5 grid the dashboard draws."""
    return (
        scores.group_by(["r", "fm"])
        .aggregate(customers=scores.count(), revenue_minor=scores.monetary_minor.sum())
        .order_by(["r", "fm"])
    )
