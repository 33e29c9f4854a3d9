"""Campaign uplift from the analytics copy: treated vs held-out members after each launch.

Reads ``campaign_recipients(merchant_id, campaign_id, member_id, group, launched_at,
launched_local[, window_days])``, synced from the campaign tables: one row per member a
campaign selected, ``group`` ``treated`` (messaged) or ``holdout`` (kept back at random),
``launched_local`` the launch time in the merchant's zone, ``window_days`` the campaign's
results window. A member's outcome is their purchases in [launch, launch + window): whether
they bought (repurchase rate) and their net revenue (0 when they bought nothing). Differences
with 95% intervals: :mod:`patron.analytics.uplift`.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from patron.analytics.facts import Scope, all_purchases, merchant_table
from patron.analytics.uplift import mean_difference_from_sums, rate_difference

GROUPS = ("treated", "holdout")


def outcomes_by_group(con: Any, scope: Scope, window_days: int = 30) -> ir.Table:
    """``campaign_id, group, members, buyers, revenue_minor, revenue_sq``: per campaign launched
    in the scope's window and group (Σ and Σ² of members' net revenue in minor units)."""
    r = merchant_table(con, "campaign_recipients", scope.merchant_id)
    r = r.filter(
        (r.launched_local >= ibis.literal(scope.start_ts))
        & (r.launched_local < ibis.literal(scope.end_ts))
    )
    p = all_purchases(con, scope.merchant_id)
    p = p.filter(p.member_id.notnull())
    # The campaign's own results window when the copy has it (synced campaigns), else the given.
    if "window_days" in r.columns:
        window = r.window_days.fill_null(window_days).as_interval("D")
    else:
        window = ibis.interval(days=window_days)
    j = r.left_join(
        p,
        (r.member_id == p.member_id)
        & (p.placed_local >= r.launched_local)
        & (p.placed_local < r.launched_local + window),
    )
    per = j.group_by([r.campaign_id, r.group, r.member_id]).aggregate(
        orders=j.order_id.count(), revenue=j.net_minor.sum().fill_null(0).cast("int64")
    )
    return (
        per.group_by(["campaign_id", "group"])
        .aggregate(
            members=per.count(),
            buyers=(per.orders > 0).cast("int64").sum(),
            revenue_minor=per.revenue.sum(),
            revenue_sq=(per.revenue * per.revenue).sum(),
        )
        .order_by(["campaign_id", "group"])
    )


def campaign_uplift(con: Any, scope: Scope, window_days: int = 30) -> pd.DataFrame:
    """One row per campaign with both groups of two members or more (an interval needs two;
    a small shop's holdout may draw fewer): rates, revenue per member, differences and 95%
    intervals (``rate_*``: Newcombe; ``revenue_*``: Welch, minor units per member)."""
    g: pd.DataFrame = con.execute(outcomes_by_group(con, scope, window_days))
    rows = []
    for campaign, part in g.groupby("campaign_id", sort=True):
        by = {str(row.group): row for row in part.itertuples(index=False)}
        if set(GROUPS) - set(by):
            continue
        t, h = by["treated"], by["holdout"]
        if int(t.members) < 2 or int(h.members) < 2:
            continue
        rate = rate_difference(int(t.buyers), int(t.members), int(h.buyers), int(h.members))
        sums = [(int(x.members), int(x.revenue_minor), int(x.revenue_sq)) for x in (t, h)]
        revenue = mean_difference_from_sums(sums[0], sums[1])
        rows.append(
            {
                "campaign_id": int(str(campaign)),
                "treated": int(t.members),
                "holdout": int(h.members),
                "treated_rate": rate.treated,
                "holdout_rate": rate.holdout,
                "rate_diff": rate.difference,
                "rate_low": rate.low,
                "rate_high": rate.high,
                "treated_revenue": revenue.treated,
                "holdout_revenue": revenue.holdout,
                "revenue_diff": revenue.difference,
                "revenue_low": revenue.low,
                "revenue_high": revenue.high,
            }
        )
    return pd.DataFrame(rows)


__all__ = ["campaign_uplift", "outcomes_by_group"]
