"""Program metrics: points, stored value, coupons, tiers, mall (definitions: docs/analytics.md).

They read the program tables as the sync copies them (:mod:`patron.analytics.program_sources`)
and map them to metric inputs with Ibis, so the mapping runs on every engine:

- :func:`postings` joins ``ledger_postings`` to ``ledger_accounts`` (account code, member) and
  ``journal_entries`` (time, reason): one row per posting; member-side postings have
  ``member_id``; merchant-side ones name their account (``points_issued``,
  ``points_redeemed``, ``points_expired``, ``cash_received``, ``bonus_issued`` …).
- ``coupon_codes(merchant_id, id, member_id, issued_local, redeemed_local, …)``
- ``member_tiers(merchant_id, member_id, tier_code)`` and
  ``tier_changes(merchant_id, member_id, from_code, to_code, changed_local)``
- ``mall_orders(merchant_id, id, member_id, created_local, points, status)``
- ``order_payments(merchant_id, order_id, member_id, created_local, cash_minor, …)``
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from patron.analytics.facts import Facts, Scope, in_window, merchant_table, period_index, ratio

POINTS_FLOWS = {"points_issued": -1, "points_redeemed": 1, "points_expired": 1}
STORED_VALUE_ASSETS = ("stored_principal", "stored_bonus")


def postings(con: Any, merchant_id: int) -> ir.Table:
    """``entry_id, account_code, member_id, asset, amount, occurred_local, reason_code``."""
    p = merchant_table(con, "ledger_postings", merchant_id)
    a = merchant_table(con, "ledger_accounts", merchant_id)
    e = merchant_table(con, "journal_entries", merchant_id)
    j = p.join(a, p.account_id == a.id).join(e, p.entry_id == e.id)
    return j.select(
        entry_id=p.entry_id,
        account_code=a.code,
        member_id=a.member_id,
        asset=p.asset,
        amount=p.amount,
        occurred_local=e.occurred_local,
        reason_code=e.reason_code,
    )


def _postings(con: Any, scope: Scope, facts: Facts | None) -> ir.Table:
    """:func:`postings`, kept once per suite run when ``facts`` caches."""
    if facts is None:
        return postings(con, scope.merchant_id)
    return facts.shared("postings", lambda: postings(con, scope.merchant_id))


def points_flows(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """``pidx, issued, redeemed, expired``: points through the merchant's points accounts.

    Issued = −Σ postings on ``points_issued`` (it is credited, negative, when points are
    earned); redeemed and expired = Σ postings on ``points_redeemed`` / ``points_expired``.
    Reversals (refunds) are postings too, so every figure is net of them.
    """
    lp = in_window(_postings(con, scope, facts), scope, "occurred_local")
    lp = lp.filter(lp.member_id.isnull() & lp.account_code.isin(list(POINTS_FLOWS)))
    lp = lp.mutate(pidx=period_index(lp.occurred_local, scope.period))

    def flow(code: str) -> ir.IntegerValue:
        sign = POINTS_FLOWS[code]
        return (ibis.ifelse(lp.account_code == code, lp.amount, 0) * sign).sum().cast("int64")

    return (
        lp.group_by("pidx")
        .aggregate(
            issued=flow("points_issued"),
            redeemed=flow("points_redeemed"),
            expired=flow("points_expired"),
        )
        .order_by("pidx")
    )


def breakage(flows: ir.Table) -> ir.Table:
    """One row: breakage rate = expired / (redeemed + expired) over the window."""
    t = flows.aggregate(redeemed=flows.redeemed.sum(), expired=flows.expired.sum())
    return t.mutate(breakage_rate=ratio(t.expired, t.redeemed + t.expired))


def liability_changes(con: Any, scope: Scope, facts: Facts | None = None) -> ir.Table:
    """``pidx, asset, change``: net change of members' balances per period and asset (points,
    stored principal, stored bonus); history before the window folds into ``first_index - 1``.
    The liability at a period's end is the running sum (the members' outstanding balances)."""
    lp = _postings(con, scope, facts)
    lp = lp.filter(
        lp.member_id.notnull()
        & lp.asset.isin(["points", *STORED_VALUE_ASSETS])
        & (lp.occurred_local < ibis.literal(scope.end_ts))
    )
    pidx = ibis.greatest(period_index(lp.occurred_local, scope.period), scope.first_index - 1)
    lp = lp.mutate(pidx=pidx)
    return lp.group_by(["pidx", "asset"]).aggregate(change=lp.amount.sum().cast("int64"))


def coupon_rates(con: Any, scope: Scope) -> ir.Table:
    """Per period of issue: coupons issued (voided ones included), of them redeemed before the
    window's end (a coupon given back by a full refund is not redeemed), rate."""
    c = in_window(merchant_table(con, "coupon_codes", scope.merchant_id), scope, "issued_local")
    used = c.redeemed_local.notnull() & (c.redeemed_local < ibis.literal(scope.end_ts))
    c = c.mutate(pidx=period_index(c.issued_local, scope.period), used=used.cast("int64"))
    g = c.group_by("pidx").aggregate(issued=c.count(), redeemed=c.used.sum())
    return g.mutate(redemption_rate=ratio(g.redeemed, g.issued)).order_by("pidx")


def tier_distribution(con: Any, scope: Scope) -> ir.Table:
    """``tier, members``: members per tier now."""
    t = merchant_table(con, "member_tiers", scope.merchant_id)
    return t.group_by(tier=t.tier_code).aggregate(members=t.count()).order_by("tier")


def tier_movements(con: Any, scope: Scope) -> ir.Table:
    """``pidx, from_tier, to_tier, moves`` during the window (``from_tier`` '' = first tier)."""
    t = in_window(merchant_table(con, "tier_changes", scope.merchant_id), scope, "changed_local")
    t = t.mutate(
        pidx=period_index(t.changed_local, scope.period),
        from_tier=t.from_code.fill_null(""),
        to_tier=t.to_code,
    )
    return (
        t.group_by(["pidx", "from_tier", "to_tier"])
        .aggregate(moves=t.count())
        .order_by(["pidx", "from_tier", "to_tier"])
    )


def mall_orders(con: Any, scope: Scope) -> ir.Table:
    """``pidx, orders, members, points_spent``: points-mall orders per period of ordering,
    cancelled ones (their points were given back) left out."""
    m = in_window(merchant_table(con, "mall_orders", scope.merchant_id), scope, "created_local")
    m = m.filter(m.status != "cancelled")
    m = m.mutate(pidx=period_index(m.created_local, scope.period))
    return (
        m.group_by("pidx")
        .aggregate(
            orders=m.count(),
            members=m.member_id.nunique(),
            points_spent=m.points.sum().cast("int64"),
        )
        .order_by("pidx")
    )


def payment_mix(con: Any, scope: Scope) -> ir.Table:
    """``pidx, orders, cash_minor, points_value_minor, stored_value_minor, points_redeemed``:
    how members' orders were paid, per period, as paid (refunds do not change it)."""
    p = in_window(merchant_table(con, "order_payments", scope.merchant_id), scope, "created_local")
    p = p.mutate(pidx=period_index(p.created_local, scope.period))
    stored = p.stored_principal_minor + p.stored_bonus_minor
    return (
        p.group_by("pidx")
        .aggregate(
            orders=p.count(),
            cash_minor=p.cash_minor.sum().cast("int64"),
            points_value_minor=p.points_value_minor.sum().cast("int64"),
            stored_value_minor=stored.sum().cast("int64"),
            points_redeemed=p.points_redeemed.sum().cast("int64"),
        )
        .order_by("pidx")
    )
