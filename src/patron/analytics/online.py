"""Store customers moving online: per store and period, how many of the store's customers
joined online, signed in to the portal, bought online, and can be reached by a message
(definitions: docs/analytics.md, "Store customers online"; ADR 1340).

Every step counts a customer once it has happened *by the end of the period* (at any time
before, too): the figure is how far the store's customers of that period have come online,
not what they did in it. Reachability is the dispatcher's answer *now* (it is not kept over
time); the caller asks it for :func:`store_customer_ids` and passes the members it reaches.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import ibis
import ibis.expr.types as ir

from patron.analytics.facts import (
    Scope,
    all_purchases,
    in_window,
    member_filtered,
    merchant_table,
    period_index,
    ratio,
)

STORE, ONLINE = "store", "online"
# The tables the figure reads besides the orders.
TABLES = ("member_joins", "portal_visits")
STEPS = ("joined_online", "signed_in", "bought_online", "reachable")


def _store_buyers(con: Any, scope: Scope) -> ir.Table:
    """``store_id, member_id, pidx``: known customers who bought in a store (in-store
    purchase, not cancelled nor fully refunded) in the window, once per store and period."""
    p = all_purchases(con, scope.merchant_id)
    p = p.filter(p.member_id.notnull() & p.store_id.notnull() & (p.channel == STORE))
    if scope.filters.stores:
        p = p.filter(p.store_id.isin(list(scope.filters.stores)))
    p = in_window(member_filtered(con, scope, p), scope)
    return p.select(
        "store_id", "member_id", pidx=period_index(p.placed_local, scope.period)
    ).distinct()


def store_customer_ids(con: Any, scope: Scope) -> ir.Table:
    """``member_id``: every store customer of the window (whom to ask reachability for)."""
    return _store_buyers(con, scope).select("member_id").distinct()


def _first_period(t: ir.Table, column: str, scope: Scope, name: str) -> ir.Table:
    """``member_id, <name>``: the period of each member's first row of ``t``."""
    t = t.filter(t.member_id.notnull())
    g = t.group_by("member_id").aggregate(first=t[column].min())
    return g.select(
        g.member_id.name(f"{name}_member"), period_index(g.first, scope.period).name(name)
    )


def store_customers_online(
    con: Any, scope: Scope, reachable: Collection[int] | None = None
) -> ir.Table:
    """Per period and store: ``store_customers`` and, of them, ``joined_online`` (a scan-to-
    join or portal sign-up row), ``signed_in`` (a portal visit, which needs a signed-in
    member), ``bought_online`` (an online purchase), each by the end of the period, and
    ``reachable`` (in ``reachable``; NULL when not given); each with its ``*_share``."""
    m = scope.merchant_id
    sc = _store_buyers(con, scope)
    joins = _first_period(merchant_table(con, "member_joins", m), "joined_local", scope, "jidx")
    visits = _first_period(merchant_table(con, "portal_visits", m), "visited_local", scope, "vidx")
    o = all_purchases(con, m)
    online = _first_period(o.filter(o.channel == ONLINE), "placed_local", scope, "oidx")
    j = sc.left_join(joins, sc.member_id == joins.jidx_member)
    j = j.left_join(visits, j.member_id == visits.vidx_member)
    j = j.left_join(online, j.member_id == online.oidx_member)

    def by_end(first: ir.IntegerColumn) -> ir.IntegerColumn:
        return (first.notnull() & (first <= j.pidx)).cast("int64")

    if reachable is None:
        reach = ibis.null("int64")
    elif reachable:
        reach = j.member_id.isin(sorted(int(i) for i in reachable)).cast("int64")
    else:
        reach = ibis.literal(0, "int64")
    flags = j.select(
        "pidx",
        "store_id",
        "member_id",
        joined_online=by_end(j.jidx),
        signed_in=by_end(j.vidx),
        bought_online=by_end(j.oidx),
        reachable=reach,
    )
    g = flags.group_by(["pidx", "store_id"]).aggregate(
        store_customers=flags.count(),
        joined_online=flags.joined_online.sum(),
        signed_in=flags.signed_in.sum(),
        bought_online=flags.bought_online.sum(),
        reachable=flags.reachable.sum(),
    )
    return g.mutate(**{f"{s}_share": ratio(g[s], g.store_customers) for s in STEPS}).order_by(
        ["pidx", "store_id"]
    )
