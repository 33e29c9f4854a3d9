"""Customer metrics, each defined once as an Ibis expression (definitions: docs/analytics.md).

Every function takes a backend connection and a :class:`Scope` and returns an unexecuted Ibis
table; :mod:`patron.analytics.suite` executes them. Rates are ``ratio(num, den)``: NULL when
the denominator is zero.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from patron.analytics.facts import (
    EPOCH,
    Facts,
    Period,
    Scope,
    has_table,
    in_window,
    member_filtered,
    merchant_table,
    period_index,
    ratio,
)

SECOND_PURCHASE_DAYS = 16
PARETO_TOP_SHARE = 0.2


def kpis_by_period(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """Per period: customers, new/returning, orders, revenue, AOV, frequency, repurchase, retention.

    One row per period that had a purchase; periods are ``period_index`` values. ``facts``:
    the suite's shared (cached) facts; a metric called alone derives its own.
    """
    f = facts or Facts(con, scope)
    p = f.purchases
    # One period before the window, so the first period has a retention figure.
    p = p.filter((p.pidx >= scope.first_index - 1) & (p.pidx <= scope.last_index))
    cp = f.customer_periods
    per_customer = cp.group_by("pidx").aggregate(
        customers=cp.count(),
        new_customers=cp.is_new.cast("int64").sum(),
        identified_orders=cp.orders.sum(),
        repeat_customers=(cp.orders >= 2).cast("int64").sum(),
        retained_customers=cp.retained.cast("int64").sum(),
        returning_revenue_minor=ibis.ifelse(cp.is_new, 0, cp.revenue).sum(),
        identified_revenue_minor=cp.revenue.sum(),
    )
    p = with_repeat(p, f.firsts)
    per_order = p.group_by("pidx").aggregate(
        orders=p.count(),
        net_revenue_minor=p.net_minor.sum(),
        repeat_revenue_minor=ibis.ifelse(p.repeat, p.net_minor, 0).sum(),
    )
    prev = per_customer.select(pidx=per_customer.pidx + 1, prev_customers=per_customer.customers)
    s = per_order.left_join(per_customer, "pidx").select(
        per_order.pidx,
        *[c for c in per_customer.columns if c != "pidx"],
        "orders",
        "net_revenue_minor",
        "repeat_revenue_minor",
    )
    s = s.left_join(prev, "pidx").select(s, prev_customers=prev.prev_customers)
    s = s.mutate(
        customers=s.customers.fill_null(0),
        new_customers=s.new_customers.fill_null(0),
        identified_orders=s.identified_orders.fill_null(0),
        repeat_customers=s.repeat_customers.fill_null(0),
        retained_customers=s.retained_customers.fill_null(0),
        returning_revenue_minor=s.returning_revenue_minor.fill_null(0),
        identified_revenue_minor=s.identified_revenue_minor.fill_null(0),
        prev_customers=s.prev_customers.fill_null(0),
    )
    s = s.filter(s.pidx >= scope.first_index)
    return s.mutate(
        returning_customers=s.customers - s.new_customers,
        aov=ratio(s.net_revenue_minor, s.orders),
        purchase_frequency=ratio(s.identified_orders, s.customers),
        repurchase_rate=ratio(s.repeat_customers, s.customers),
        retention_rate=ratio(s.retained_customers, s.prev_customers),
        churn_rate=1.0 - ratio(s.retained_customers, s.prev_customers),
        returning_revenue_share=ratio(s.returning_revenue_minor, s.identified_revenue_minor),
        repeat_revenue_share=ratio(s.repeat_revenue_minor, s.net_revenue_minor),
    ).order_by("pidx")


def window_summary(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """One row: the same figures over the whole window (a customer counts once)."""
    f = facts or Facts(con, scope)
    return span_summary(f, scope.start_ts, scope.end_ts)


def with_repeat(p: ir.Table, firsts: ir.Table) -> ir.Table:
    """Purchases with ``repeat``: a known customer's purchase that is not their first ever,
    and ``first_local``: when that customer first bought (NULL for anonymous orders)."""
    fo = firsts.select(
        first_member=firsts.member_id,
        first_local=firsts.first_local,
        first_order_id=firsts.first_order_id,
    )
    j = p.left_join(fo, p.member_id == fo.first_member)
    return j.mutate(repeat=j.first_member.notnull() & (j.order_id != j.first_order_id))


def span_summary(f: Facts, start: datetime, end: datetime) -> ir.Table:
    """One row of window figures for the local times [start, end) (the window, or a span of it
    compared like for like, :mod:`patron.analytics.spans`). "New": first purchase at or after
    ``start``; "repeat revenue": purchases that are not the customer's first ever."""
    p = f.purchases
    p = with_repeat(
        p.filter((p.placed_local >= ibis.literal(start)) & (p.placed_local < ibis.literal(end))),
        f.firsts,
    )
    o = p.aggregate(
        orders=p.count(),
        net_revenue_minor=p.net_minor.sum(),
        repeat_revenue_minor=ibis.ifelse(p.repeat, p.net_minor, 0).sum(),
    )
    known = p.filter(p.member_id.notnull())
    known = known.mutate(is_new=known.first_local >= ibis.literal(start))
    per = known.group_by("member_id").aggregate(
        orders=known.count(), revenue=known.net_minor.sum(), is_new=known.is_new.any()
    )
    c = per.aggregate(
        customers=per.count(),
        new_customers=per.is_new.cast("int64").sum(),
        identified_orders=per.orders.sum(),
        repeat_customers=(per.orders >= 2).cast("int64").sum(),
        returning_revenue_minor=ibis.ifelse(per.is_new, 0, per.revenue).sum(),
        identified_revenue_minor=per.revenue.sum(),
    )
    s = o.cross_join(c)
    revenue = s.net_revenue_minor.fill_null(0)
    repeat = s.repeat_revenue_minor.fill_null(0)
    return s.select(
        "orders",
        "customers",
        "new_customers",
        returning_customers=s.customers - s.new_customers,
        net_revenue_minor=revenue,
        aov=ratio(s.net_revenue_minor, s.orders),
        purchase_frequency=ratio(s.identified_orders, s.customers),
        repurchase_rate=ratio(s.repeat_customers, s.customers),
        returning_revenue_share=ratio(s.returning_revenue_minor, s.identified_revenue_minor),
        repeat_revenue_minor=repeat,
        repeat_revenue_share=ratio(repeat, revenue),
    )


def customer_revenue_ranks(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """Customers in the window ranked by net revenue, best first; ties by ascending member id."""
    f = facts or Facts(con, scope)

    def build() -> ir.Table:
        per = f.window_customers.select("member_id", "revenue")
        w = ibis.window(order_by=[ibis.desc(per.revenue), per.member_id])
        return per.mutate(position=ibis.row_number().over(w) + 1, customers=per.count().over())

    return f.shared("revenue_ranks", build)


def pareto(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """One row: revenue share of the top ``ceil(20% × customers)`` customers (see ranks)."""
    r = customer_revenue_ranks(con, scope, facts)
    # ceil(n / 5) with integers only, identical on every engine.
    top_n = (r.customers + 4) // 5
    agg = r.aggregate(
        customers=r.customers.max(),
        top_customers=top_n.max(),
        top_revenue_minor=ibis.ifelse(r.position <= top_n, r.revenue, 0).sum(),
        revenue_minor=r.revenue.sum(),
    )
    return agg.mutate(pareto_share=ratio(agg.top_revenue_minor, agg.revenue_minor))


def pareto_curve(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """Cumulative revenue share by customer decile (decile d holds positions ≤ ceil(d·n/10))."""
    r = customer_revenue_ranks(con, scope, facts)
    decile = ((r.position * 10 + r.customers - 1) // r.customers).cast("int64")
    d = r.mutate(decile=decile).group_by("decile").aggregate(revenue_minor=r.revenue.sum())
    total = d.revenue_minor.sum().over()
    cum = d.revenue_minor.sum().over(ibis.window(order_by=d.decile, preceding=None, following=0))
    return d.mutate(cumulative_share=ratio(cum, total)).order_by("decile")


def second_purchase_times(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """``days, second_purchases, censored`` for the customers whose first purchase fell in the
    window: days from it to their second purchase when that came before the window's end, else
    to the window's last day (``censored``: not bought again *yet*). The input of the
    Kaplan–Meier estimate in :mod:`patron.analytics.survival` (ADR 0507)."""
    p = (facts or Facts(con, scope)).purchases
    p = p.filter(p.member_id.notnull() & (p.placed_local < ibis.literal(scope.end_ts)))
    w = ibis.window(group_by=p.member_id, order_by=[p.placed_local, p.order_id])
    ranked = p.mutate(n=ibis.row_number().over(w))
    first = in_window(ranked.filter(ranked.n == 0), scope).select("member_id", first_day="day")
    second = ranked.filter(ranked.n == 1).select(second_member="member_id", second_day="day")
    j = first.left_join(second, first.member_id == second.second_member)
    last_day = ibis.literal((scope.end - EPOCH).days - 1, "int64")
    bought = j.second_day.notnull()
    j = j.select(
        bought=bought,
        days=ibis.ifelse(bought, j.second_day - j.first_day, last_day - j.first_day).cast("int64"),
    )
    return (
        j.group_by("days")
        .aggregate(
            second_purchases=j.bought.cast("int64").sum(),
            censored=(~j.bought).cast("int64").sum(),
        )
        .order_by("days")
    )


def members_vs_non_members(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """Orders of registered members vs everyone else: frequency and order value.

    An order is a member order when its customer had registered at or before the order.
    """
    p = in_window((facts or Facts(con, scope)).purchases, scope)
    m = merchant_table(con, "members", scope.merchant_id).select(
        member_ref="id", registered_local="registered_local"
    )
    j = p.left_join(m, p.member_id == m.member_ref)
    j = j.mutate(
        group=ibis.ifelse(
            j.registered_local.notnull() & (j.registered_local <= j.placed_local),
            "member",
            "non_member",
        )
    )
    g = j.group_by("group").aggregate(
        orders=j.count(),
        identified_orders=j.member_id.notnull().cast("int64").sum(),
        customers=j.member_id.nunique(),
        net_revenue_minor=j.net_minor.sum(),
    )
    return g.mutate(
        purchase_frequency=ratio(g.identified_orders, g.customers),
        aov=ratio(g.net_revenue_minor, g.orders),
    ).order_by("group")


ACTIVITY_TABLES = (("portal_visits", "visited_local"), ("message_activity", "occurred_local"))


def member_activity(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """``member_id, at``: a member was active at a local time in the window — a purchase, a
    portal visit, a message opened or clicked (each table that is in the copy; ADR 0509)."""
    p = in_window((facts or Facts(con, scope)).purchases, scope)
    p = p.filter(p.member_id.notnull())
    acts = p.select("member_id", at=p.placed_local)
    for table, column in ACTIVITY_TABLES:
        if has_table(con, table):
            t = member_filtered(
                con, scope, in_window(merchant_table(con, table, scope.merchant_id), scope, column)
            )
            acts = acts.union(t.select("member_id", at=t[column]))
    return acts


def active_members(con: Any, scope: Scope, period: Period, facts: Facts | None = None) -> ir.Table:
    """``pidx, active_members``: distinct active members per day (DAU), week or month (MAU)."""
    a = member_activity(con, scope, facts)
    a = a.mutate(pidx=period_index(a.at, period))
    return a.group_by("pidx").aggregate(active_members=a.member_id.nunique()).order_by("pidx")


def portal_conversion(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """Per period: members who visited the portal, and those who bought at or after their
    first visit in that period (``portal_visits(merchant_id, member_id, visited_at)``)."""
    v = in_window(merchant_table(con, "portal_visits", scope.merchant_id), scope, "visited_local")
    v = v.mutate(pidx=period_index(v.visited_local, scope.period))
    fv = v.group_by(["pidx", "member_id"]).aggregate(first_visit=v.visited_local.min())
    p = in_window((facts or Facts(con, scope)).purchases, scope)
    p = p.filter(p.member_id.notnull())
    j = fv.left_join(
        p, (fv.member_id == p.member_id) & (fv.pidx == p.pidx) & (p.placed_local >= fv.first_visit)
    )
    per = j.group_by([fv.pidx, fv.member_id]).aggregate(bought=j.order_id.notnull().any())
    g = per.group_by("pidx").aggregate(visitors=per.count(), buyers=per.bought.cast("int64").sum())
    return g.mutate(conversion_rate=ratio(g.buyers, g.visitors)).order_by("pidx")
