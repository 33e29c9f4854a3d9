"""``compute_suite``: every metric for one merchant and window, as pandas frames and numbers.

This is the API the dashboard pages and ``patron report`` call. It executes the Ibis
definitions on whatever backend ``con`` is; the only work done in pandas is presentation
(period labels, running sums over a complete period grid, the median of a small histogram).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, TypeAlias

import pandas as pd

from patron.analytics import cohorts, funnel, metrics, programs, rfm, spans, survival
from patron.analytics.facts import (
    PERIODS,
    Facts,
    Filters,
    Period,
    Scope,
    has_table,
    period_start,
)

SuiteValue: TypeAlias = pd.DataFrame | float | int | None


def compute_suite(
    con: Any,
    merchant_id: int,
    start: date,
    end: date,
    period: Period = "month",
    filters: Filters | None = None,
) -> dict[str, SuiteValue]:
    """All customer and program metrics for ``merchant_id`` over local dates [start, end).

    Frames are keyed by name (``kpis``, ``cohorts``, ``rfm_segments`` …; see
    docs/analytics.md for each column); scalars are window-level figures. Metrics whose
    tables are not in the analytics copy yet (portal visits, ledger, coupons…) are left out.
    """
    scope = Scope(merchant_id, start, end, period, filters or Filters())
    # The shared facts are materialised once in the engine and dropped with ``facts`` (ADR 0503).
    facts = Facts(con, scope, cache=True)
    out: dict[str, SuiteValue] = {}
    out.update(_customer_metrics(con, scope, facts))
    out.update(_funnel_metrics(con, scope))
    out.update(_rfm_metrics(con, scope, facts))
    out["cohorts"] = _run(con, cohorts.cohort_matrix(con, scope, facts), "cohort", "month")
    out.update(_program_metrics(con, scope, facts))
    return out


def _run(
    con: Any, expr: Any, index: str | None = "pidx", period: Period | None = None
) -> pd.DataFrame:
    """Execute, then turn a period index column into the period's first day."""
    df: pd.DataFrame = con.execute(expr)
    df = df.reset_index(drop=True)
    if index is not None and index in df.columns and period is not None:
        df[index] = [period_start(int(i), period) for i in df[index]]
        if index == "pidx":
            df = df.rename(columns={"pidx": "period"})
    return df


def _customer_metrics(con: Any, scope: Scope, facts: Facts) -> dict[str, SuiteValue]:
    out: dict[str, SuiteValue] = {}
    out["kpis"] = _run(con, metrics.kpis_by_period(con, scope, facts), period=scope.period)
    summary = _run(con, metrics.window_summary(con, scope, facts), None)
    for column in summary.columns:
        out[column] = _scalar(summary[column].iloc[0])
    par = _run(con, metrics.pareto(con, scope, facts), None)
    out["pareto_share"] = _scalar(par["pareto_share"].iloc[0])
    out["pareto_curve"] = _run(con, metrics.pareto_curve(con, scope, facts), None)
    times = _run(con, metrics.second_purchase_times(con, scope, facts), None)
    km = survival.kaplan_meier(times)
    out["time_to_second_purchase"] = km
    out["median_days_to_second"] = survival.median_days(km)
    out["second_within_16_days_share"] = survival.share_within(km, metrics.SECOND_PURCHASE_DAYS)
    out["members_vs_non_members"] = _run(
        con, metrics.members_vs_non_members(con, scope, facts), None
    )
    out["dau"] = _run(con, metrics.active_members(con, scope, "day", facts), period="day")
    out["mau"] = _run(con, metrics.active_members(con, scope, "month", facts), period="month")
    if scope.period not in ("day", "month"):
        out["active_members"] = _run(
            con, metrics.active_members(con, scope, scope.period, facts), period=scope.period
        )
    current, previous = spans.like_for_like(scope.start, scope.end, scope.period)
    out["comparison"] = comparison_frame(con, scope, (current, previous), facts)
    if has_table(con, "portal_visits"):
        out["portal_conversion"] = _run(
            con, metrics.portal_conversion(con, scope, facts), period=scope.period
        )
    return out


def comparison_frame(
    con: Any, scope: Scope, compared: Sequence[spans.Span], facts: Facts | None = None
) -> pd.DataFrame:
    """:func:`patron.analytics.spans.span_figures` with each span's first and last day."""
    frame = _run(con, spans.span_figures(con, scope, compared, facts), None)
    frame = frame[["span", *[c for c in frame.columns if c != "span"]]]
    frame.insert(1, "start", [s.start for s in compared])
    frame.insert(2, "last", [s.last for s in compared])
    return frame


def _funnel_metrics(con: Any, scope: Scope) -> dict[str, SuiteValue]:
    changes = _run(con, funnel.stage_changes(con, scope), None)
    progress = _run(con, funnel.stage_progress(con, scope), None)
    counts, conversion = funnel.funnel_frames(changes, progress, scope)
    return {"funnel_counts": counts, "funnel_conversion": conversion}


def _rfm_metrics(con: Any, scope: Scope, facts: Facts) -> dict[str, SuiteValue]:
    scores = facts.keep(rfm.rfm_scores(con, scope, facts))
    return {
        "rfm_segments": _run(con, rfm.rfm_segments(scores), None),
        "rfm_grid": _run(con, rfm.rfm_grid(scores), None),
    }


def _program_metrics(con: Any, scope: Scope, facts: Facts) -> dict[str, SuiteValue]:
    out: dict[str, SuiteValue] = {}
    if all(has_table(con, t) for t in ("ledger_postings", "ledger_accounts", "journal_entries")):
        flows = facts.keep(programs.points_flows(con, scope, facts))
        out["points_flows"] = _run(con, flows, period=scope.period)
        out["breakage_rate"] = _scalar(
            _run(con, programs.breakage(flows), None)["breakage_rate"].iloc[0]
        )
        changes = _run(con, programs.liability_changes(con, scope, facts), None)
        out["liability"] = running_balances(changes, scope)
    tables: dict[str, Any] = {
        "coupon_codes": programs.coupon_rates,
        "tier_changes": programs.tier_movements,
        "mall_orders": programs.mall_orders,
        "order_payments": programs.payment_mix,
    }
    for table, metric in tables.items():
        if has_table(con, table):
            out[metric.__name__] = _run(con, metric(con, scope), period=scope.period)
    if has_table(con, "member_tiers"):
        out["tier_distribution"] = _run(con, programs.tier_distribution(con, scope), None)
    return out


def running_balances(changes: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    """``period, asset, balance``: members' outstanding balance per asset at each period's end."""
    periods = list(range(scope.first_index - 1, scope.last_index + 1))
    assets = sorted({"points", *programs.STORED_VALUE_ASSETS} | set(changes["asset"]))
    grid = pd.MultiIndex.from_product([periods, assets], names=["pidx", "asset"])
    s = changes.set_index(["pidx", "asset"])["change"].reindex(grid, fill_value=0)
    bal = s.groupby(level="asset").cumsum().rename("balance").reset_index()
    bal = bal[bal["pidx"] >= scope.first_index]
    bal.insert(0, "period", [period_start(int(i), scope.period) for i in bal["pidx"]])
    return bal.drop(columns="pidx").reset_index(drop=True).astype({"balance": "int64"})


def _scalar(v: Any) -> float | int | None:
    """A plain Python number (engines return numpy scalars), None for NULL."""
    if v is None or pd.isna(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
    return v if isinstance(v, int | float) else float(v)


__all__ = ["PERIODS", "Filters", "compute_suite"]
