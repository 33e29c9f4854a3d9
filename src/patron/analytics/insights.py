"""The analytics pages' content: KPI cards and figures (chart + the rows behind it).

One builder for the dashboard pages and ``patron report``: both call :func:`build_insights`
with the reader's language and the merchant's money format, then lay the figures out. Each
figure's ``rows`` frame is exactly what its CSV download holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from markupsafe import Markup
from sqlalchemy import select

from patron.analytics import charts
from patron.analytics.campaigns import campaign_uplift
from patron.analytics.charts import Series, percent
from patron.analytics.facts import Filters, Period, Scope, has_table
from patron.analytics.lifetime import LifetimeFigures, lifetime_figures
from patron.analytics.suite import compute_suite
from patron.engagement.campaigns.models import Campaign

STAGES = ("user", "customer", "member", "fan")
GAP_BINS = ((0, 7), (8, 16), (17, 30), (31, 60), (61, 90), (91, 180), (181, None))


def N_(message: str) -> str:
    """Mark a message for extraction; translated where it is shown."""
    return message


@dataclass(frozen=True)
class Labels:
    """How the reader sees words, money and periods (the dashboard's or the report's)."""

    gettext: Callable[[str], str]
    money: Callable[[float], str]  # minor units → "¥1,234.50"
    period: Callable[[date, Period], str]


@dataclass
class Kpi:
    key: str
    label: str
    value: str
    delta: str = ""
    direction: str = ""  # "up", "down" or "" (no previous period)
    spark: Markup = field(default_factory=Markup)
    hint: str = ""


@dataclass
class Figure:
    key: str
    title: str
    chart: Markup
    rows: pd.DataFrame
    facts: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""
    wide: bool = False


@dataclass
class Insights:
    scope: Scope
    kpis: list[Kpi]
    figures: list[Figure]
    empty: bool

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)


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
    scope = Scope(merchant_id, start, end, period, filters)
    suite = compute_suite(con, merchant_id, start, end, period, filters)
    kpis_frame = suite["kpis"]
    assert isinstance(kpis_frame, pd.DataFrame)
    figs = _Figures(suite, labels, scope)
    figures = [
        figs.retention(),
        figs.cohorts(),
        figs.funnel(),
        figs.funnel_conversion(),
        figs.rfm(),
        figs.pareto(),
        figs.second_purchase(),
        *figs.lifetime(lifetime_figures(con, scope)),
        *figs.liability(),
        *figs.uplift(uplift_rows(con, scope, session)),
    ]
    return Insights(
        scope,
        _kpis(suite, kpis_frame, labels),
        [f for f in figures if f is not None],
        empty=not suite["orders"],
    )


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
    # An interval needs at least two members in each group.
    found = found[(found["treated"] >= 2) & (found["holdout"] >= 2)]
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


def _trend(frame: pd.DataFrame, column: str, rate: bool) -> tuple[str, str, Markup]:
    values = [None if pd.isna(v) else float(v) for v in frame[column]] if len(frame) else []
    spark = charts.sparkline(values)
    known = [v for v in values[-2:] if v is not None]
    if len(values) < 2 or len(known) < 2:
        return "", "", spark
    prev, last = known
    if rate:
        change = (last - prev) * 100
        text = f"{change:+.1f} pts"
    elif prev:
        change = (last - prev) / prev * 100
        text = f"{change:+.0f}%"
    else:
        return "", "", spark
    return text, "up" if change > 0 else ("down" if change < 0 else ""), spark


def _kpis(suite: dict[str, Any], frame: pd.DataFrame, labels: Labels) -> list[Kpi]:
    _ = labels.gettext

    def show(v: Any, kind: str) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "—"
        return {"rate": percent, "money": labels.money, "count": charts.plain}[kind](v)

    last = frame.iloc[-1] if len(frame) else None
    specs = [
        ("customers", N_("Customers"), suite["customers"], "count", "customers"),
        ("repurchase_rate", N_("Repurchase rate"), suite["repurchase_rate"], "rate", None),
        (
            "retention_rate",
            N_("Retention rate"),
            None if last is None else last["retention_rate"],
            "rate",
            "retention_rate",
        ),
        ("aov", N_("Average order value"), suite["aov"], "money", "aov"),
        (
            "returning_revenue_share",
            N_("Revenue from returning customers"),
            suite["returning_revenue_share"],
            "rate",
            "returning_revenue_share",
        ),
        ("pareto_share", N_("Revenue from the top 20%"), suite["pareto_share"], "rate", None),
    ]
    hints = {
        "customers": N_("in the period"),
        "repurchase_rate": N_("bought twice or more in the period"),
        "retention_rate": N_("of last period's customers came back"),
        "aov": N_("net of refunds"),
        "returning_revenue_share": N_("first bought before this period"),
        "pareto_share": N_("share of revenue from the best customers"),
    }
    out = []
    for key, label, value, kind, column in specs:
        trend_col = column or ("repurchase_rate" if key == "repurchase_rate" else None)
        delta, direction, spark = (
            _trend(frame, trend_col, kind == "rate") if trend_col else ("", "", Markup(""))
        )
        out.append(Kpi(key, _(label), show(value, kind), delta, direction, spark, _(hints[key])))
    return out


class _Figures:
    """Each method turns part of the suite into one :class:`Figure` (or None when empty)."""

    def __init__(self, suite: dict[str, Any], labels: Labels, scope: Scope) -> None:
        self.suite, self.labels, self.scope = suite, labels, scope
        self._ = labels.gettext

    def _period(self, d: Any, period: Period | None = None) -> str:
        return self.labels.period(pd.Timestamp(d).date(), period or self.scope.period)

    def retention(self) -> Figure | None:
        k: pd.DataFrame = self.suite["kpis"]
        if k.empty:
            return None
        rows = k[
            [
                "period",
                "customers",
                "repurchase_rate",
                "retained_customers",
                "prev_customers",
                "retention_rate",
                "churn_rate",
            ]
        ]
        title = self._("Repurchase and retention over time")
        chart = charts.line_chart(
            title,
            [self._period(p) for p in k["period"]],
            [
                Series(self._("Repurchase rate"), _floats(k["repurchase_rate"])),
                Series(self._("Retention rate"), _floats(k["retention_rate"])),
            ],
            percent,
            top=1.0,
        )
        return Figure("retention", title, chart, rows.reset_index(drop=True))

    def cohorts(self) -> Figure | None:
        c: pd.DataFrame = self.suite["cohorts"]
        if c.empty:
            return None
        cohorts = sorted(c["cohort"].unique())
        months = int(c["months_since"].max()) + 1
        index = {d: i for i, d in enumerate(cohorts)}
        cells = {(index[r.cohort], int(r.months_since)): float(r.share) for r in c.itertuples()}
        sizes = c.groupby("cohort")["cohort_size"].first()
        title = self._("Cohort retention")
        chart = charts.heatmap(
            title,
            [self._period(d, "month") for d in cohorts],
            [f"+{m}" for m in range(months)],
            cells,
            notes=[charts.plain(int(sizes[d])) for d in cohorts],
            width=1000,
        )
        note = self._(
            "Rows: month of first purchase (size on the right). Columns: months since. "
            "Cells: share of the cohort that bought in that month."
        )
        return Figure("cohorts", title, chart, c, note=note, wide=True)

    def funnel(self) -> Figure | None:
        f: pd.DataFrame = self.suite["funnel_counts"]
        if f.empty:
            return None
        last = f[f["period"] == f["period"].max()].set_index("stage")["members"]
        counts = [int(last.get(s, 0)) for s in STAGES]
        total = sum(counts) or 1
        title = self._("Funnel")
        names = {
            "user": N_("User"),
            "customer": N_("Customer"),
            "member": N_("Member"),
            "fan": N_("Fan"),
        }
        chart = charts.hbar_chart(
            title,
            [self._(names[s]) for s in STAGES],
            counts,
            notes=[percent(c / total) for c in counts],
        )
        return Figure("funnel", title, chart, f, note=self._("Members per stage at the end."))

    def funnel_conversion(self) -> Figure | None:
        c: pd.DataFrame = self.suite["funnel_conversion"]
        steps = [("user", "customer"), ("customer", "member"), ("member", "fan")]
        periods = sorted(c["period"].unique()) if not c.empty else []
        if not periods:
            return None
        series = []
        for frm, to in steps:
            sel = c[(c["from_stage"] == frm) & (c["to_stage"] == to)].set_index("period")
            rate = sel["conversion_rate"]
            values = [
                None if p not in rate.index or pd.isna(rate[p]) else float(rate[p]) for p in periods
            ]
            series.append(Series(f"{self._(frm.title())} → {self._(to.title())}", values))
        if all(v is None for line in series for v in line.values):
            return None
        title = self._("Conversion between stages")
        chart = charts.line_chart(title, [self._period(p) for p in periods], series, percent)
        return Figure("funnel_conversion", title, chart, c)

    def rfm(self) -> Figure | None:
        seg: pd.DataFrame = self.suite["rfm_segments"]
        if seg.empty:
            return None
        seg = seg.sort_values(["customers", "segment"], ascending=[False, True])
        title = self._("RFM segments")
        chart = charts.hbar_chart(
            title,
            [self._(RFM_NAMES.get(s, s)) for s in seg["segment"]],
            [int(v) for v in seg["customers"]],
            notes=[self.labels.money(v) for v in seg["revenue_minor"]],
        )
        note = self._("Customers per segment and their revenue in the period.")
        return Figure("rfm", title, chart, seg.reset_index(drop=True), note=note)

    def pareto(self) -> Figure | None:
        p: pd.DataFrame = self.suite["pareto_curve"]
        if p.empty:
            return None
        rows = p.assign(customer_share=p["decile"] / 10)
        title = self._("Pareto curve")
        points = [
            (float(d) / 10, float(s))
            for d, s in zip(p["decile"], p["cumulative_share"], strict=True)
        ]
        chart = charts.pareto_chart(title, points)
        share = self.suite["pareto_share"]
        facts = [(self._("Top 20% of customers"), percent(share) if share is not None else "—")]
        return Figure("pareto", title, chart, rows, facts=facts)

    def second_purchase(self) -> Figure | None:
        g: pd.DataFrame = self.suite["time_to_second_purchase"]
        if g.empty:
            return None
        labels, counts = [], []
        for lo, hi in GAP_BINS:
            inside = g["days"] >= lo if hi is None else g["days"].between(lo, hi)
            labels.append(f"{lo}+" if hi is None else f"{lo}–{hi}")
            counts.append(int(g.loc[inside, "customers"].sum()))
        title = self._("Time to second purchase")
        chart = charts.bar_chart(
            title,
            labels,
            [Series(self._("Customers"), counts)],
            highlight=lambda i: i < 2,
        )
        median = self.suite["median_days_to_second"]
        within = self.suite["second_within_16_days_share"]
        facts = [
            (self._("Median days"), charts.plain(median) if median is not None else "—"),
            (self._("Within 16 days"), percent(within) if within is not None else "—"),
        ]
        return Figure("second_purchase", title, chart, g, facts=facts, note=self._("Days"))

    def lifetime(self, lt: LifetimeFigures | None) -> list[Figure | None]:
        if lt is None:
            return []
        title = self._("Probability alive")
        labels = [
            f"{round(a * 100)}–{round(b * 100)}%"
            for a, b in zip(lt.p_alive["low"], lt.p_alive["high"], strict=True)
        ]
        chart = charts.bar_chart(
            title, labels, [Series(self._("Customers"), list(lt.p_alive["customers"]))]
        )
        facts = [
            (self._("Customers fitted"), charts.plain(lt.customers)),
            (self._("Average"), percent(lt.mean_p_alive)),
        ]
        out: list[Figure | None] = [
            Figure("p_alive", title, chart, lt.p_alive, facts=facts, note=_model_note(self._))
        ]
        if lt.clv is not None:
            title = self._("Lifetime value, next 12 months")
            clv_labels = [
                f"{self.labels.money(lo)}+"
                if hi is None or pd.isna(hi)
                else f"{self.labels.money(lo)}"
                for lo, hi in zip(lt.clv["low_minor"], lt.clv["high_minor"], strict=True)
            ]
            chart = charts.bar_chart(
                title, clv_labels, [Series(self._("Customers"), list(lt.clv["customers"]))]
            )
            facts = [
                (self._("Median"), self.labels.money(lt.median_clv_minor or 0)),
                (self._("Total"), self.labels.money(lt.total_clv_minor or 0)),
            ]
            out.append(Figure("clv", title, chart, lt.clv, facts=facts))
        return out

    def liability(self) -> list[Figure | None]:
        lia = self.suite.get("liability")
        if not isinstance(lia, pd.DataFrame) or lia.empty or not lia["balance"].abs().sum():
            return []  # no program activity yet: nothing to owe
        periods = sorted(lia["period"].unique())
        by = lia.pivot_table(index="period", columns="asset", values="balance", aggfunc="sum")
        by = by.reindex(periods).fillna(0)
        labels = [self._period(p) for p in periods]
        points = [float(v) for v in by.get("points", pd.Series(0, index=by.index))]
        stored = [
            float(by.get("stored_principal", 0 * by.iloc[:, 0])[p])
            + float(by.get("stored_bonus", 0 * by.iloc[:, 0])[p])
            for p in periods
        ]
        t1 = self._("Points liability")
        t2 = self._("Stored value liability")
        return [
            Figure(
                "points_liability",
                t1,
                charts.line_chart(t1, labels, [Series(self._("Points"), points)]),
                lia[lia["asset"] == "points"].reset_index(drop=True),
            ),
            Figure(
                "stored_value_liability",
                t2,
                charts.line_chart(
                    t2, labels, [Series(self._("Stored value"), stored)], self.labels.money
                ),
                lia[lia["asset"] != "points"].reset_index(drop=True),
            ),
        ]

    def uplift(self, rows: pd.DataFrame) -> list[Figure | None]:
        if rows.empty:
            return []
        title = self._("Campaign uplift: repurchase rate")
        chart = charts.forest_chart(
            title,
            list(rows["campaign"]),
            [(r.rate_difference, r.rate_low, r.rate_high) for r in rows.itertuples()],
        )
        note = self._(
            "Treated minus held-out members, with the 95% interval. Right of the line: the "
            "campaign brought customers back."
        )
        return [Figure("uplift", title, chart, rows, note=note, wide=True)]


RFM_NAMES = {
    "champions": N_("Champions"),
    "loyal": N_("Loyal"),
    "potential_loyalist": N_("Potential loyalists"),
    "new": N_("New"),
    "promising": N_("Promising"),
    "need_attention": N_("Need attention"),
    "about_to_sleep": N_("About to sleep"),
    "cant_lose": N_("Can't lose them"),
    "at_risk": N_("At risk"),
    "hibernating": N_("Hibernating"),
    "lost": N_("Lost"),
}


def _model_note(_: Callable[[str], str]) -> str:
    return _(
        "BG/NBD and Gamma-Gamma fitted on these customers' purchases up to the end of the period."
    )


def _floats(s: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in s]


def csv_of(figure: Figure) -> str:
    """The figure's rows as CSV (dates ISO, floats full precision, empty for missing)."""
    text: str = figure.rows.to_csv(index=False, lineterminator="\n")
    return text
