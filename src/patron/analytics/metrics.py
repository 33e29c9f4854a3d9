"""Customer metrics, each defined once as an Ibis expression (definitions: docs/analytics.md).

Every function takes a backend connection and a :class:`Scope` and returns an unexecuted Ibis
table; :mod:`patron.analytics.suite` executes them. Rates are ``ratio(num, den)``: NULL when
the denominator is zero.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from patron.analytics.facts import (
    Facts,
    Scope,
    has_table,
    in_window,
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
    per_order = p.group_by("pidx").aggregate(orders=p.count(), net_revenue_minor=p.net_minor.sum())
    prev = per_customer.select(pidx=per_customer.pidx + 1, prev_customers=per_customer.customers)
    s = per_order.left_join(per_customer, "pidx").select(
        per_order.pidx,
        *[c for c in per_customer.columns if c != "pidx"],
        "orders",
        "net_revenue_minor",
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
    ).order_by("pidx")


def window_summary(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """One row: the same figures over the whole window (a customer counts once)."""
    f = facts or Facts(con, scope)
    p = in_window(f.purchases, scope)
    per = f.window_customers
    firsts = f.firsts
    per = per.join(firsts, "member_id").select(
        "orders", "revenue", is_new=firsts.first_local >= ibis.literal(scope.start_ts)
    )
    c = per.aggregate(
        customers=per.count(),
        new_customers=per.is_new.cast("int64").sum(),
        identified_orders=per.orders.sum(),
        repeat_customers=(per.orders >= 2).cast("int64").sum(),
        returning_revenue_minor=ibis.ifelse(per.is_new, 0, per.revenue).sum(),
        identified_revenue_minor=per.revenue.sum(),
    )
    o = p.aggregate(orders=p.count(), net_revenue_minor=p.net_minor.sum())
    s = o.cross_join(c)
    return s.select(
        "orders",
        "customers",
        "new_customers",
        returning_customers=s.customers - s.new_customers,
        net_revenue_minor=s.net_revenue_minor.fill_null(0),
        aov=ratio(s.net_revenue_minor, s.orders),
        purchase_frequency=ratio(s.identified_orders, s.customers),
        repurchase_rate=ratio(s.repeat_customers, s.customers),
        returning_revenue_share=ratio(s.returning_revenue_minor, s.identified_revenue_minor),
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


def second_purchase_gaps(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """Histogram ``days, customers``: days from first to second purchase, for customers whose
    second purchase (with the merchant, any store) fell in the window."""
    p = (facts or Facts(con, scope)).purchases
    p = p.filter(p.member_id.notnull())
    w = ibis.window(group_by=p.member_id, order_by=[p.placed_local, p.order_id])
    ranked = p.mutate(n=ibis.row_number().over(w))
    first = ranked.filter(ranked.n == 0).select("member_id", first_day="day")
    second = in_window(ranked.filter(ranked.n == 1), scope)
    second = second.select("member_id", second_day="day")
    gaps = second.join(first, "member_id").select(
        days=(second.second_day - first.first_day).cast("int64")
    )
    return gaps.group_by("days").aggregate(customers=gaps.count()).order_by("days")


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


def _activity(con: Any, scope: Scope, facts: Facts | None) -> ir.Table:
    """``member_id, at``: a member was active at a local time (a purchase or a portal visit)."""
    p = in_window((facts or Facts(con, scope)).purchases, scope)
    p = p.filter(p.member_id.notnull())
    acts = p.select("member_id", at=p.placed_local)
    if has_table(con, "portal_visits"):
        v = in_window(
            merchant_table(con, "portal_visits", scope.merchant_id), scope, "visited_local"
        )
        acts = acts.union(v.select("member_id", at=v.visited_local))
    return acts.select("member_id", "at")


def active_members(con: Any, scope: Scope, period: str, facts: Facts | None = None) -> ir.Table:
    """``pidx, active_members``: distinct active members per day (DAU) or month (MAU)."""
    a = _activity(con, scope, facts)
    a = a.mutate(pidx=period_index(a.at, "day" if period == "day" else "month"))
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
