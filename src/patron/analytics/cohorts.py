"""Monthly acquisition cohorts × months since first purchase."""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir

from patron.analytics.facts import (
    Facts,
    Scope,
    member_filtered,
    period_index,
    ratio,
)


def cohort_matrix(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """``cohort, months_since, customers, cohort_size, share, revenue_minor``.

    The cohort is the month of a customer's first purchase with the merchant; cohorts whose
    month lies in the window are shown, with every later month up to the window's end. A
    customer is retained in month k when they bought in that month (k = 0 is the first month).
    Revenue is the cohort's net revenue in that month. Segment and tier filters restrict the
    cohort's customers; store and channel filters restrict the purchases counted.
    """
    first_m = scope.first_index if scope.period == "month" else _month_index(scope, start=True)
    last_m = scope.last_index if scope.period == "month" else _month_index(scope, start=False)
    facts = facts or Facts(con, scope)
    f = facts.firsts
    f = f.select("member_id", cohort=period_index(f.first_local, "month"))
    f = member_filtered(con, scope, f.filter((f.cohort >= first_m) & (f.cohort <= last_m)))
    if scope.period == "month":
        # The customer-months are already in the facts (a customer counts once per row).
        cp = facts.customer_periods
        j = cp.join(f, "member_id")
        cells = j.group_by(["cohort", j.pidx]).aggregate(
            customers=j.count(), revenue_minor=j.revenue.sum()
        )
        cells = cells.rename(month="pidx")
    else:
        p = facts.purchases
        p = p.filter(p.member_id.notnull())
        p = p.mutate(month=period_index(p.placed_local, "month"))
        p = p.filter(p.month <= last_m)
        j = p.join(f, "member_id")
        cells = j.group_by(["cohort", j.month]).aggregate(
            customers=j.member_id.nunique(), revenue_minor=j.net_minor.sum()
        )
    size = f.group_by("cohort").aggregate(cohort_size=f.count())
    m = cells.join(size, "cohort")
    return m.select(
        "cohort",
        months_since=(m.month - m.cohort).cast("int64"),
        customers=m.customers,
        cohort_size=m.cohort_size,
        share=ratio(m.customers, m.cohort_size),
        revenue_minor=m.revenue_minor,
    ).order_by(["cohort", "months_since"])


def _month_index(scope: Scope, *, start: bool) -> int:
    d = scope.start if start else scope.end.fromordinal(scope.end.toordinal() - 1)
    return d.year * 12 + d.month - 1
