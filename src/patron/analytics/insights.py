"""The analytics pages' content: KPI cards and figures (chart + the rows behind it).

One builder for the dashboard pages and ``patron report``. The figures are computed once per
view (:func:`compute_page_data`: the suite, the lifetime fit, campaign uplift — what the page
cache keeps, ADR 0506) and laid out in the reader's language by :func:`present`.
:func:`build_insights` does both. Each figure's ``rows`` frame is exactly what its CSV download
holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from markupsafe import Markup
from sqlalchemy import select

from patron.analytics import charts, online
from patron.analytics.campaigns import campaign_uplift
from patron.analytics.charts import percent
from patron.analytics.facts import Filters, Period, Scope, has_table, period_start
from patron.analytics.figures import N_, Figure, FigureBuilder, Labels
from patron.analytics.lifetime import LifetimeStatus, lifetime_figures
from patron.analytics.suite import compute_suite
from patron.core.csv_safe import safe_cell
from patron.engagement.campaigns.models import Campaign
from patron.engagement.reach import reachable_members
from patron.tenancy.models import Store

__all__ = ["Figure", "Insights", "Kpi", "Labels", "PageData", "build_insights", "present"]


@dataclass
class Kpi:
    key: str
    label: str
    value: str
    delta: str = ""
    direction: str = ""  # "up", "down" or "" (nothing to compare)
    spark: Markup = field(default_factory=Markup)
    hint: str = ""
    compared: str = ""  # which days the delta compares, e.g. "Dec 1 – 7 vs Nov 1 – 7"


@dataclass
class Insights:
    scope: Scope
    kpis: list[Kpi]
    figures: list[Figure]
    empty: bool
    lifetime_problem: str = ""

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)


@dataclass(frozen=True)
class PageData:
    """Everything a view's figures are drawn from, in no language: what the page cache keeps."""

    scope: Scope
    suite: dict[str, Any]
    lifetime: LifetimeStatus
    uplift: pd.DataFrame
    # Store customers online (None when the copy lacks the tables it reads).
    online: pd.DataFrame | None = None


def compute_page_data(
    con: Any,
    merchant_id: int,
    start: date,
    end: date,
    period: Period,
    filters: Filters,
    session: Any = None,
) -> PageData:
    """Compute the suite, the lifetime fit and campaign uplift for one view."""
    scope = Scope(merchant_id, start, end, period, filters)
    suite = compute_suite(con, merchant_id, start, end, period, filters)
    return PageData(
        scope,
        suite,
        lifetime_figures(con, scope),
        uplift_rows(con, scope, session),
        online_rows(con, scope, session),
    )


def present(data: PageData, labels: Labels) -> Insights:
    """Cards and figures in the reader's language and the merchant's money."""
    suite = data.suite
    figs = FigureBuilder(suite, labels, data.scope)
    figures = [
        figs.retention(),
        figs.repeat_revenue(),
        figs.cohorts(),
        figs.funnel(),
        figs.funnel_conversion(),
        figs.active_members(),
        figs.portal_conversion(),
        figs.store_online(data.online),
        figs.rfm(),
        figs.pareto(),
        figs.second_purchase(),
        *figs.lifetime(data.lifetime),
        *figs.liability(),
        *figs.uplift(data.uplift),
    ]
    return Insights(
        data.scope,
        kpi_cards(suite, labels),
        [f for f in figures if f is not None],
        empty=not suite["orders"],
        lifetime_problem=data.lifetime.problem,
    )


def build_insights(
    con: Any,
    merchant_id: int,
    start: date,
    end: date,
    period: Period,
    filters: Filters,
    labels: Labels,
    session: Any = None,
) -> Insights:
    """Compute the suite (and the lifetime fit) and turn it into cards and figures."""
    data = compute_page_data(con, merchant_id, start, end, period, filters, session)
    return present(data, labels)


UPLIFT_COLUMNS = [
    "campaign",
    "treated",
    "holdout",
    "treated_rate",
    "holdout_rate",
    "rate_difference",
    "rate_low",
    "rate_high",
    "revenue_difference_minor",
    "revenue_low_minor",
    "revenue_high_minor",
]


def uplift_rows(con: Any, scope: Scope, session: Any = None) -> pd.DataFrame:
    """One row per campaign launched in the window with a holdout: both groups' repurchase
    rates and the difference in rate and in revenue per member, each with its 95% interval
    (:func:`patron.analytics.campaigns.campaign_uplift`, from the analytics copy). Campaigns
    are named from ``session`` when given, else by id."""
    if not has_table(con, "campaign_recipients"):
        return pd.DataFrame(columns=UPLIFT_COLUMNS)
    found = campaign_uplift(con, scope)
    if found.empty:
        return pd.DataFrame(columns=UPLIFT_COLUMNS)
    names: dict[int, str] = {}
    if session is not None and len(found):
        ids = [int(i) for i in found["campaign_id"]]
        names = dict(
            session.execute(
                select(Campaign.id, Campaign.name).where(
                    Campaign.merchant_id == scope.merchant_id, Campaign.id.in_(ids)
                )
            ).all()
        )
    rows = pd.DataFrame(
        {
            "campaign": [names.get(int(i), f"#{int(i)}") for i in found["campaign_id"]],
            "treated": found["treated"],
            "holdout": found["holdout"],
            "treated_rate": found["treated_rate"],
            "holdout_rate": found["holdout_rate"],
            "rate_difference": found["rate_diff"],
            "rate_low": found["rate_low"],
            "rate_high": found["rate_high"],
            "revenue_difference_minor": found["revenue_diff"],
            "revenue_low_minor": found["revenue_low"],
            "revenue_high_minor": found["revenue_high"],
        }
    )
    return rows.reset_index(drop=True)


ONLINE_COLUMNS = [
    "period",
    "store_id",
    "store",
    "store_customers",
    *online.STEPS,
    *[f"{s}_share" for s in online.STEPS],
]


def online_rows(con: Any, scope: Scope, session: Any = None) -> pd.DataFrame | None:
    """Store customers online per period and store (:mod:`patron.analytics.online`), with the
    store's name. Reachability is asked of the operational database through ``session`` (the
    dispatcher's checks); without a session its columns are empty."""
    if not all(has_table(con, t) for t in online.TABLES):
        return None
    reachable: set[int] | None = None
    if session is not None:
        ids = con.execute(online.store_customer_ids(con, scope))["member_id"]
        reachable = reachable_members(session, scope.merchant_id, [int(i) for i in ids])
    df: pd.DataFrame = con.execute(online.store_customers_online(con, scope, reachable))
    df = df.reset_index(drop=True)
    names: dict[int, str] = {}
    if session is not None and len(df):
        names = dict(
            session.execute(
                select(Store.id, Store.name).where(Store.merchant_id == scope.merchant_id)
            ).all()
        )
    df.insert(0, "period", [period_start(int(i), scope.period) for i in df["pidx"]])
    df.insert(2, "store", [names.get(int(i), f"#{int(i)}") for i in df["store_id"]])
    df = df.drop(columns="pidx")
    return df[ONLINE_COLUMNS].sort_values(["period", "store"], ignore_index=True)


KpiSpec = tuple[str, str, str, str, str]  # key, label, window figure, kind, hint
KPI_SPECS: tuple[KpiSpec, ...] = (
    ("customers", N_("Customers"), "customers", "count", N_("bought in these dates")),
    (
        "repurchase_rate",
        N_("Repurchase rate"),
        "repurchase_rate",
        "rate",
        N_("bought twice or more in these dates"),
    ),
    (
        "retention_rate",
        N_("Retention rate"),
        "",
        "rate",
        N_("of the previous period's customers came back (latest period)"),
    ),
    ("aov", N_("Average order value"), "aov", "money", N_("net of refunds")),
    (
        "repeat_revenue_share",
        N_("Revenue from repeat purchases"),
        "repeat_revenue_share",
        "rate",
        N_("purchases that were not the customer's first, share of all revenue"),
    ),
    (
        "returning_revenue_share",
        N_("Revenue from customers acquired before these dates"),
        "returning_revenue_share",
        "rate",
        N_("customers who first bought before the first day, share of known customers' revenue"),
    ),
    (
        "pareto_share",
        N_("Revenue from the top 20%"),
        "pareto_share",
        "rate",
        N_("share of revenue from the best customers"),
    ),
)
# Cards whose change is shown, and the column of the like-for-like comparison it reads.
COMPARED = {
    "customers": "customers",
    "repurchase_rate": "repurchase_rate",
    "retention_rate": "retention_rate",
    "aov": "aov",
    "repeat_revenue_share": "repeat_revenue_share",
    "returning_revenue_share": "returning_revenue_share",
}
# Sparklines: the per-period column behind each card.
TRENDS = {
    "customers": "customers",
    "repurchase_rate": "repurchase_rate",
    "retention_rate": "retention_rate",
    "aov": "aov",
    "repeat_revenue_share": "repeat_revenue_share",
    "returning_revenue_share": "returning_revenue_share",
}


def _number(v: Any) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or pd.isna(v):
        return None
    return float(v)


def change(current: Any, previous: Any, kind: str, labels: Labels) -> tuple[str, str]:
    """The change from ``previous`` to ``current``: points for rates, % otherwise; and its
    direction ("up", "down" or ""). Nothing when either side is missing (or 0, for a %)."""
    now, before = _number(current), _number(previous)
    if now is None or before is None:
        return "", ""
    if kind == "rate":
        diff = round((now - before) * 100, 1)
        text = labels.gettext("%(change)s pts") % {"change": f"{diff:+.1f}"}
    elif before:
        diff = round((now - before) / before * 100)
        text = f"{diff:+.0f}%"
    else:
        return "", ""
    return text, "up" if diff > 0 else ("down" if diff < 0 else "")


def kpi_cards(suite: dict[str, Any], labels: Labels) -> list[Kpi]:
    """The headline cards: each the window's figure, its trend per period, and its change in
    the latest period against the same days of the period before (ADR 0505)."""
    _ = labels.gettext
    frame: pd.DataFrame = suite["kpis"]
    comparison: pd.DataFrame = suite["comparison"]
    now, before = comparison.iloc[0], comparison.iloc[1]
    compared = _("%(current)s vs %(previous)s") % {
        "current": labels.span(now["start"], now["last"]),
        "previous": labels.span(before["start"], before["last"]),
    }
    out = []
    for key, label, column, kind, hint in KPI_SPECS:
        # Retention is a per-period figure: the card shows the latest period's (its days).
        value = now["retention_rate"] if key == "retention_rate" else suite[column]
        delta, direction = "", ""
        if key in COMPARED:
            delta, direction = change(now[COMPARED[key]], before[COMPARED[key]], kind, labels)
        values = _series(frame, TRENDS[key]) if key in TRENDS else []
        out.append(
            Kpi(
                key,
                _(label),
                _show(value, kind, labels),
                delta,
                direction,
                charts.sparkline(values),
                _(hint),
                compared if key in COMPARED else "",
            )
        )
    return out


def _series(frame: pd.DataFrame, column: str) -> list[float | None]:
    return [_number(v) for v in frame[column]] if len(frame) else []


def _show(v: Any, kind: str, labels: Labels) -> str:
    number = _number(v)
    if number is None:
        return "—"
    if kind == "rate":
        return percent(number)
    if kind == "money":
        return labels.money(number)
    return charts.plain(number)


def csv_of(figure: Figure) -> str:
    """The figure's rows as CSV (dates ISO, floats full precision, empty for missing)."""
    rows = figure.rows.copy()
    # Labels (segment, store, product names) are merchant text: neutralise formula cells like
    # every CSV Patron writes (patron.core.csv_safe); numbers and dates are left as pandas
    # writes them.
    rows.columns = [safe_cell(str(c)) for c in rows.columns]
    for column in rows.columns:
        if rows[column].dtype == object or pd.api.types.is_string_dtype(rows[column]):
            rows[column] = rows[column].map(safe_cell)
    text: str = rows.to_csv(index=False, lineterminator="\n")
    return text
