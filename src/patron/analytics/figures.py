"""The analytics pages' figures: each turns part of the suite into a chart and the rows behind it.

Every figure's ``rows`` frame is exactly what its CSV download holds; ``note`` says in the
merchant's words what is counted (the definitions are in docs/analytics.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

from patron.analytics import charts
from patron.analytics.charts import Series, percent
from patron.analytics.facts import Period, Scope
from patron.analytics.funnel import STEPS
from patron.analytics.lifetime import LifetimeStatus
from patron.analytics.metrics import SECOND_PURCHASE_DAYS


def N_(message: str) -> str:
    """Mark a message for extraction; translated where it is shown."""
    return message


@dataclass(frozen=True)
class Labels:
    """How the reader sees words, money, periods and spans (the dashboard's or the report's)."""

    gettext: Callable[[str], str]
    money: Callable[[float], str]  # minor units → "¥1,234.50"
    period: Callable[[date, Period], str]
    # First and last day of a span → "Dec 1 – 7" (default: ISO dates).
    span: Callable[[date, date], str] = lambda a, b: f"{a} – {b}"


@dataclass
class Figure:
    key: str
    title: str
    chart: Markup
    rows: pd.DataFrame
    facts: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""
    wide: bool = False


STAGE_NAMES = {
    "user": N_("User"),
    "customer": N_("Customer"),
    "member": N_("Member"),
    "fan": N_("Fan"),
}
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
# The time-to-second-purchase curve stops here (days): later returns are rare and the tail of
# a Kaplan–Meier curve rests on a handful of customers.
SECOND_PURCHASE_HORIZON = 180


def _floats(s: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in s]


class FigureBuilder:
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
        columns = ["period", "customers", "repurchase_rate", "retained_customers"]
        rows = k[[*columns, "prev_customers", "retention_rate", "churn_rate"]]
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

    def repeat_revenue(self) -> Figure | None:
        k: pd.DataFrame = self.suite["kpis"]
        if k.empty:
            return None
        rows = k[
            [
                "period",
                "net_revenue_minor",
                "repeat_revenue_minor",
                "repeat_revenue_share",
                "identified_revenue_minor",
                "returning_revenue_minor",
                "returning_revenue_share",
            ]
        ]
        title = self._("Revenue from repeat purchases")
        chart = charts.line_chart(
            title,
            [self._period(p) for p in k["period"]],
            [
                Series(self._("Repeat purchases"), _floats(k["repeat_revenue_share"])),
                Series(
                    self._("Customers acquired before the period"),
                    _floats(k["returning_revenue_share"]),
                ),
            ],
            percent,
            top=1.0,
        )
        note = self._(
            "Repeat purchases: every purchase that was not the customer's first, as a share of "
            "all revenue in the period. Customers acquired before the period: revenue from "
            "customers whose first purchase came before the period began, as a share of the "
            "revenue from known customers — near 0 for a period that starts with your first "
            "orders, however loyal the customers."
        )
        return Figure("repeat_revenue", title, chart, rows.reset_index(drop=True), note=note)

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
        counts = [int(last.get(s, 0)) for s in STAGE_NAMES]
        total = sum(counts) or 1
        title = self._("Funnel")
        chart = charts.hbar_chart(
            title,
            [self._(name) for name in STAGE_NAMES.values()],
            counts,
            notes=[percent(c / total) for c in counts],
        )
        return Figure("funnel", title, chart, f, note=self._("Members per stage at the end."))

    def funnel_conversion(self) -> Figure | None:
        c: pd.DataFrame = self.suite["funnel_conversion"]
        periods = sorted(c["period"].unique()) if not c.empty else []
        if not periods:
            return None
        series = []
        for frm, to in STEPS:
            sel = c[(c["from_stage"] == frm) & (c["to_stage"] == to)].set_index("period")
            rate = sel["conversion_rate"]
            values = [
                None if p not in rate.index or pd.isna(rate[p]) else float(rate[p]) for p in periods
            ]
            name = f"{self._(STAGE_NAMES[frm])} → {self._(STAGE_NAMES[to])}"
            series.append(Series(name, values))
        title = self._("Conversion between stages")
        chart = charts.line_chart(
            title, [self._period(p) for p in periods], series, percent, top=1.0
        )
        note = self._(
            "Of the members in a stage when a period began, the share who had reached the next "
            "stage (or one further along) by its end. Members who joined during the period "
            "count from the next one."
        )
        return Figure("funnel_conversion", title, chart, c, note=note)

    def active_members(self) -> Figure | None:
        scope = self.scope
        per: pd.DataFrame = self.suite["mau" if scope.period == "month" else "active_members"]
        daily: pd.DataFrame = self.suite["dau"]
        if per.empty:
            return None
        periods = [pd.Timestamp(p).date() for p in per["period"]]
        days = [self._days_in(p)[1] for p in periods]
        sums = self._daily_sums(periods, daily)
        average = [s / d if d else None for s, d in zip(sums, days, strict=True)]
        rows = pd.DataFrame(
            {
                "period": periods,
                "active_members": per["active_members"].astype("int64"),
                "average_daily_active_members": average,
            }
        )
        title = self._("Active members")
        chart = charts.line_chart(
            title,
            [self._period(p) for p in periods],
            [
                Series(self._("Active in the period"), [float(v) for v in rows.active_members]),
                Series(self._("Active on an average day"), average),
            ],
        )
        window_days = (scope.end - scope.start).days
        latest = {
            "month": N_("Monthly active, latest month"),
            "week": N_("Weekly active, latest week"),
            "day": N_("Daily active, latest day"),
        }[scope.period]
        facts = [
            (
                self._("Daily active, on average"),
                charts.plain(round(float(daily["active_members"].sum()) / window_days, 1)),
            ),
            (self._(latest), charts.plain(int(rows.active_members.iloc[-1]))),
        ]
        note = self._(
            "Active: bought, visited the member portal, or opened or clicked a message. Each "
            "member counts once per period, and once per day for the daily average."
        )
        return Figure("active_members", title, chart, rows, facts=facts, note=note)

    def _days_in(self, first: date) -> tuple[date, int]:
        """The period starting ``first``, cut to the window: its first day and its length."""
        scope = self.scope
        if scope.period == "month":
            after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        else:
            after = first + timedelta(days=7 if scope.period == "week" else 1)
        lo, hi = max(first, scope.start), min(after, scope.end)
        return lo, max(0, (hi - lo).days)

    def _daily_sums(self, periods: list[date], daily: pd.DataFrame) -> list[int]:
        stamps = [pd.Timestamp(d).date() for d in daily["period"]]
        out = []
        for p in periods:
            lo, n = self._days_in(p)
            hi = lo + timedelta(days=n)
            counts = zip(stamps, daily["active_members"], strict=True)
            out.append(int(sum(v for d, v in counts if lo <= d < hi)))
        return out

    def portal_conversion(self) -> Figure | None:
        conv = self.suite.get("portal_conversion")
        if not isinstance(conv, pd.DataFrame):
            return None
        title = self._("Portal visitors who buy")
        note = self._(
            "Of the members who visited the member portal in a period, the share who bought in "
            "the same period, at or after their first visit in it."
        )
        if conv.empty or not conv["visitors"].sum():
            note = self._("No member portal visits in these dates yet.") + " " + note
            return Figure("portal_conversion", title, Markup(""), conv, note=note)
        chart = charts.line_chart(
            title,
            [self._period(p) for p in conv["period"]],
            [Series(self._("Visitors who bought"), _floats(conv["conversion_rate"]))],
            percent,
            top=1.0,
        )
        facts = [
            (self._("Visitors"), charts.plain(int(conv["visitors"].sum()))),
            (self._("Bought"), charts.plain(int(conv["buyers"].sum()))),
        ]
        return Figure("portal_conversion", title, chart, conv, facts=facts, note=note)

    def store_online(self, rows: pd.DataFrame | None) -> Figure | None:
        """A table per store and period: the store's customers and how many of them have
        joined online, signed in to the portal, bought online and can get a message."""
        if rows is None:
            return None
        title = self._("Store customers moving online")
        note = " ".join(
            self._(text)
            for text in (
                N_("Store customers: members who bought in the store in the period."),
                N_(
                    "Of them, by the end of the period: joined online (by scanning a join code "
                    "or signing up on the member portal), signed in to the member portal, and "
                    "bought online (each counted at any time up to the period's end)."
                ),
                N_(
                    "Reachable by message: can get a marketing message today on SMS, e-mail or "
                    "another channel with an address (has the address, agreed to marketing on "
                    "that channel, the channel is switched on)."
                ),
            )
        )
        if rows.empty:
            note = self._("No store customers in these dates yet.") + " " + note
            return Figure("store_online", title, Markup(""), rows, note=note, wide=True)
        if rows["reachable"].notna().any() and not rows["reachable"].fillna(0).sum():
            note += " " + self._(
                "No one can get a message yet: a channel with addresses must be switched on "
                "(Message settings) and members must agree to marketing on it."
            )
        heads = [
            self._("Period"),
            self._("Store"),
            self._("Store customers"),
            self._("Joined online"),
            self._("Signed in to the portal"),
            self._("Bought online"),
            self._("Reachable by message"),
        ]
        body = []
        for r in rows.itertuples(index=False):
            cells = [
                f"<td>{escape(self._period(r.period))}</td>",
                f"<td>{escape(r.store)}</td>",
                f'<td class="num">{charts.plain(int(r.store_customers))}</td>',
            ]
            for step in ("joined_online", "signed_in", "bought_online", "reachable"):
                count, share = getattr(r, step), getattr(r, f"{step}_share")
                if pd.isna(count):
                    cells.append('<td class="num">—</td>')
                    continue
                shown = percent(float(share)) if not pd.isna(share) else "—"
                cells.append(
                    f'<td class="num" data-step="{step}">{charts.plain(int(count))} '
                    f'<span class="muted">({shown})</span></td>'
                )
            body.append("<tr>" + "".join(cells) + "</tr>")
        html = (
            '<div class="table-wrap"><table class="data store-online"><thead><tr>'
            + "".join(
                ("<th>" if i < 2 else '<th class="num">') + f"{escape(h)}</th>"
                for i, h in enumerate(heads)
            )
            + "</tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table></div>"
        )
        table = Markup(html)  # every text in it was escaped above
        total = int(rows["store_customers"].sum())
        facts = [(self._("Store customers (per store and period, added up)"), charts.plain(total))]
        return Figure("store_online", title, table, rows, facts=facts, note=note, wide=True)

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
        km: pd.DataFrame = self.suite["time_to_second_purchase"]
        if km.empty:
            return None
        limit = min(int(km["days"].max()), SECOND_PURCHASE_HORIZON)
        step = km.set_index("days")["bought_again"].reindex(range(limit + 1)).ffill().fillna(0.0)
        ticks = 7 if limit <= 98 else 30
        title = self._("Time to second purchase")
        chart = charts.line_chart(
            title,
            [str(d) if d % ticks == 0 else "" for d in step.index],
            [Series(self._("Bought again"), [float(v) for v in step])],
            percent,
        )
        median = self.suite["median_days_to_second"]
        within = self.suite["second_within_16_days_share"]
        first_buyers = int(km["second_purchases"].sum() + km["censored"].sum())
        facts = [
            (self._("New customers"), charts.plain(first_buyers)),
            (self._("Median days"), charts.plain(median) if median is not None else "—"),
            (
                self._("Within %(days)s days") % {"days": SECOND_PURCHASE_DAYS},
                percent(within) if within is not None else "—",
            ),
        ]
        note = self._(
            "Days from a customer's first purchase (in these dates) to the second. Customers "
            "who have not bought again yet count for as long as we have watched them "
            "(Kaplan–Meier estimate), so recent first buyers do not drag the figures down. "
            "“—”: not reached in these dates."
        )
        return Figure("second_purchase", title, chart, km, facts=facts, note=note)

    def lifetime(self, status: LifetimeStatus) -> list[Figure | None]:
        lt = status.figures
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
        note = self._(
            "BG/NBD and Gamma-Gamma fitted on these customers' purchases up to the end of the "
            "period."
        )
        if "spend_not_reliable" in lt.notes:
            note += " " + self._(
                "Lifetime value is not shown: the spend model could not be fitted reliably on "
                "these purchases."
            )
        out: list[Figure | None] = [Figure("p_alive", title, chart, lt.p_alive, facts, note)]
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
        zero = pd.Series(0.0, index=by.index)
        points = [float(v) for v in by.get("points", zero)]
        stored = [
            float(by.get("stored_principal", zero)[p]) + float(by.get("stored_bonus", zero)[p])
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
