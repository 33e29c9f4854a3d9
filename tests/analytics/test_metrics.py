"""Every customer metric on a tiny shop whose answers were worked out by hand.

The shop (merchant 1, window January–February 2026, monthly periods):

    member 1 (registered 2026-01-01): Jan 03 1000, Jan 10 500, Feb 05 300
    member 2 (never registered):      Jan 20 2000
    member 3 (never registered):      Feb 06 800 fully refunded → not a purchase
    member 4 (registered 2025-12-01): Dec 15 (2025) 400, Feb 10 600 (refunded 100 of it)
    anonymous:                        Feb 07 100
    merchant 2's order on Jan 05 must never show up.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from patron.analytics import cohorts, metrics, rfm, spans, survival
from patron.analytics.facts import Filters, Scope
from patron.analytics.suite import compute_suite
from tests.analytics.builders import Shop
from tests.analytics.conftest import duck_of


def shop() -> Shop:
    s = Shop()
    s.member(1, registered="2026-01-01")
    s.member(2)
    s.member(3)
    s.member(4, registered="2025-12-01")
    s.order(1, "2026-01-03 10:00", 1000)
    s.order(1, "2026-01-10 10:00", 500, channel="online", store=11)
    s.order(2, "2026-01-20 10:00", 2000)
    s.order(1, "2026-02-05 10:00", 300)
    s.order(3, "2026-02-06 10:00", 800, refunded=800)
    s.order(None, "2026-02-07 10:00", 100)
    s.order(4, "2025-12-15 10:00", 400)
    s.order(4, "2026-02-10 10:00", 600, refunded=100)
    s.order(1, "2026-01-05 10:00", 9999, merchant=2)
    return s


@pytest.fixture
def con():  # type: ignore[no-untyped-def]
    return duck_of(shop())


SCOPE = Scope(1, date(2026, 1, 1), date(2026, 3, 1), "month")


def test_kpis_by_period(con) -> None:  # type: ignore[no-untyped-def]
    k = con.execute(metrics.kpis_by_period(con, SCOPE)).set_index("pidx")
    jan, feb = k.loc[2026 * 12], k.loc[2026 * 12 + 1]
    # Jan: members 1 (2 orders) and 2 (1 order), both new; revenue 1000+500+2000 = 3500.
    assert (jan.customers, jan.new_customers, jan.returning_customers) == (2, 2, 0)
    assert (jan.orders, jan.net_revenue_minor) == (3, 3500)
    assert jan.aov == pytest.approx(3500 / 3, rel=1e-12)
    assert jan.purchase_frequency == 1.5  # 3 identified orders / 2 customers
    assert jan.repurchase_rate == 0.5  # member 1 bought twice in January
    # December had member 4 only, who did not buy in January: retention 0/1.
    assert (jan.prev_customers, jan.retained_customers, jan.retention_rate) == (1, 0, 0.0)
    assert jan.churn_rate == 1.0
    assert jan.returning_revenue_share == 0.0
    # Feb: members 1 (300) and 4 (500 net); member 3's order was refunded in full; anonymous 100.
    assert (feb.customers, feb.new_customers, feb.returning_customers) == (2, 0, 2)
    assert (feb.orders, feb.net_revenue_minor) == (3, 900)
    assert feb.aov == 300.0
    assert feb.purchase_frequency == 1.0
    assert feb.repurchase_rate == 0.0
    # Of January's 2 customers only member 1 came back.
    assert (feb.prev_customers, feb.retained_customers, feb.retention_rate) == (2, 1, 0.5)
    assert feb.returning_revenue_share == 1.0  # 800 of the identified 800


def test_window_summary_counts_a_customer_once(con) -> None:  # type: ignore[no-untyped-def]
    s = con.execute(metrics.window_summary(con, SCOPE)).iloc[0]
    # 6 purchases (3 Jan + 3 Feb), customers 1, 2, 4; member 4 first bought in 2025.
    assert (s.orders, s.customers, s.new_customers, s.returning_customers) == (6, 3, 2, 1)
    assert s.net_revenue_minor == 4400
    assert s.purchase_frequency == pytest.approx(5 / 3, rel=1e-12)
    assert s.repurchase_rate == pytest.approx(1 / 3, rel=1e-12)  # member 1 (3 purchases)
    assert s.returning_revenue_share == pytest.approx(500 / 4300, rel=1e-12)
    # Repeat purchases: member 1's Jan 10 (500) and Feb 05 (300), member 4's Feb 10 (500 net,
    # its first was in 2025) = 1300 of all 4400 (the anonymous 100 is not a repeat purchase).
    assert s.repeat_revenue_minor == 1300
    assert s.repeat_revenue_share == pytest.approx(1300 / 4400, rel=1e-12)


def test_repeat_revenue_per_period(con) -> None:  # type: ignore[no-untyped-def]
    k = con.execute(metrics.kpis_by_period(con, SCOPE)).set_index("pidx")
    jan, feb = k.loc[2026 * 12], k.loc[2026 * 12 + 1]
    assert (jan.repeat_revenue_minor, jan.repeat_revenue_share) == (500, 500 / 3500)
    assert (feb.repeat_revenue_minor, feb.repeat_revenue_share) == (800, 800 / 900)
    # "Acquired before the period": January's customers are all new in January.
    assert (jan.returning_revenue_share, feb.returning_revenue_share) == (0.0, 1.0)


def test_pareto_share_takes_ceil_of_a_fifth(con) -> None:  # type: ignore[no-untyped-def]
    p = con.execute(metrics.pareto(con, SCOPE)).iloc[0]
    # Revenue: member 2 2000, member 1 1800, member 4 500; top ceil(3/5) = 1 customer.
    assert (p.customers, p.top_customers, p.top_revenue_minor, p.revenue_minor) == (
        3,
        1,
        2000,
        4300,
    )
    assert p.pareto_share == pytest.approx(2000 / 4300, rel=1e-12)


def test_pareto_ties_go_to_the_lower_member_id() -> None:
    s = Shop()
    for m in (7, 3, 5, 9, 11, 13):
        s.member(m)
        s.order(m, "2026-01-02", 100)
    con = duck_of(s)
    r = con.execute(metrics.customer_revenue_ranks(con, SCOPE)).sort_values("position")
    assert r.member_id.tolist() == [3, 5, 7, 9, 11, 13]
    p = con.execute(metrics.pareto(con, SCOPE)).iloc[0]
    assert (p.top_customers, p.top_revenue_minor) == (2, 200)  # ceil(6/5) = 2


def test_second_purchase_times_are_censored_at_the_window_end(con) -> None:  # type: ignore[no-untyped-def]
    g = con.execute(metrics.second_purchase_times(con, SCOPE))
    # First purchases in the window: member 1 (Jan 03, again Jan 10 → 7 days) and member 2
    # (Jan 20, not again by Feb 28 → watched 39 days). Member 4 first bought in 2025.
    assert g.to_dict("list") == {"days": [7, 39], "second_purchases": [1, 0], "censored": [0, 1]}
    suite = compute_suite(con, 1, SCOPE.start, SCOPE.end)
    km = suite["time_to_second_purchase"]
    assert km.to_dict("list") == {
        "days": [7, 39],
        "at_risk": [2, 1],
        "second_purchases": [1, 0],
        "censored": [0, 1],
        "bought_again": [0.5, 0.5],
    }
    assert suite["median_days_to_second"] == 7.0
    assert suite["second_within_16_days_share"] == 0.5


def test_members_vs_non_members(con) -> None:  # type: ignore[no-untyped-def]
    g = con.execute(metrics.members_vs_non_members(con, SCOPE)).set_index("group")
    # Members 1 and 4 had registered: orders 1000, 500, 300, 500 → 4 orders, 2 customers.
    assert g.loc["member"].tolist() == [4, 4, 2, 2300, 2.0, 575.0]
    # Member 2 (2000) and the anonymous order (100).
    assert g.loc["non_member"].tolist() == [2, 1, 1, 2100, 1.0, 1050.0]


def test_active_members_and_portal_conversion() -> None:
    s = shop()
    s.row("portal_visits", member_id=2, visited_local=_ts("2026-01-18 09:00"))
    s.row("portal_visits", member_id=3, visited_local=_ts("2026-01-21 09:00"))
    s.row("portal_visits", member_id=1, visited_local=_ts("2026-02-06 09:00"))
    s.row("portal_visits", member_id=9, visited_local=_ts("2026-01-05 09:00"), merchant_id=2)
    con = duck_of(s)
    mau = con.execute(metrics.active_members(con, SCOPE, "month")).set_index("pidx")
    # Jan: members 1, 2 bought, 3 visited → 3. Feb: 1, 4 bought (3's order was refunded).
    assert mau.active_members.to_dict() == {2026 * 12: 3, 2026 * 12 + 1: 2}
    dau = con.execute(metrics.active_members(con, SCOPE, "day"))
    assert dau.active_members.sum() == 8  # 6 purchase days + 2 visit-only days (Jan 18, Jan 21)
    conv = con.execute(metrics.portal_conversion(con, SCOPE)).set_index("pidx")
    # Jan: 2 visitors (2 bought Jan 20 after the Jan 18 visit; 3 never bought) → 1/2.
    # Feb: member 1 visited Feb 06 but bought on Feb 05, before the visit → 0/1.
    assert conv.loc[2026 * 12].tolist() == [2, 1, 0.5]
    assert conv.loc[2026 * 12 + 1].tolist() == [1, 0, 0.0]


def test_filters_store_channel_segment_tier() -> None:
    s = shop()
    for m, tier in ((1, "gold"), (2, "silver"), (4, "gold")):
        s.row("member_tiers", member_id=m, tier_code=tier)
    con = duck_of(s)
    scope = Scope(1, SCOPE.start, SCOPE.end, "month", Filters(channels=["online"]))
    assert con.execute(metrics.window_summary(con, scope)).iloc[0].net_revenue_minor == 500
    scope = Scope(1, SCOPE.start, SCOPE.end, "month", Filters(stores=[10], members=[1, 2]))
    assert con.execute(metrics.window_summary(con, scope)).iloc[0].net_revenue_minor == 3300
    scope = Scope(1, SCOPE.start, SCOPE.end, "month", Filters(tiers=["gold"]))
    summary = con.execute(metrics.window_summary(con, scope)).iloc[0]
    assert (summary.customers, summary.net_revenue_minor) == (2, 2300)


def test_cohorts(con) -> None:  # type: ignore[no-untyped-def]
    c = con.execute(cohorts.cohort_matrix(con, SCOPE))
    # Cohort Jan 2026 = members 1 and 2; month 0: both (3500); month 1: member 1 (300).
    # Member 4's cohort (Dec 2025) lies before the window.
    assert c.to_dict("list") == {
        "cohort": [2026 * 12, 2026 * 12],
        "months_since": [0, 1],
        "customers": [2, 1],
        "cohort_size": [2, 2],
        "share": [1.0, 0.5],
        "revenue_minor": [3500, 300],
    }


def test_rfm_scores_and_segments() -> None:
    s = Shop()
    # Five customers; R, F, M values chosen so the scores are easy to read.
    plan = {
        1: ["2026-02-27"] * 5,  # recent, frequent
        2: ["2026-02-20", "2026-02-21"],
        3: ["2026-01-15"],
        4: ["2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"],
        5: ["2026-01-02"],
    }
    for m, days in plan.items():
        s.member(m)
        for d in days:
            s.order(m, f"{d} 12:00", 1000)
    con = duck_of(s)
    r = con.execute(rfm.rfm_scores(con, SCOPE)).set_index("member_id").sort_index()
    # Last days: 1 Feb 27, 2 Feb 21, 3 Jan 15, 4 Jan 05, 5 Jan 02 → worse counts 4,3,2,1,0.
    # R = 1 + floor(5 × worse / 5) = worse + 1.
    assert r.r.tolist() == [5, 4, 3, 2, 1]
    assert r.recency_days.tolist() == [1, 7, 44, 54, 57]  # to Feb 28, the window's last day
    # F: 5, 2, 1, 4, 1 → members 3 and 5 tie at 1 (worse 0 → score 1); 2 → worse 2 → 3;
    # 4 → worse 3 → 4; 5 → worse 4 → 5. M = 1000 × F gives the same scores.
    assert r.f.tolist() == [5, 3, 1, 4, 1]
    assert r.m.tolist() == r.f.tolist()
    assert r.segment.tolist() == [
        "champions",
        "potential_loyalist",
        "about_to_sleep",
        "at_risk",
        "lost",
    ]
    seg = con.execute(rfm.rfm_segments(rfm.rfm_scores(con, SCOPE))).set_index("segment")
    assert seg.loc["champions"].tolist() == [1, 5000, 0.2, 5000 / 13000]


def test_rfm_segment_rules_cover_every_cell() -> None:
    for r_score in range(1, 6):
        for fm in range(1, 6):
            hits = [n for n, rs, fms in rfm.SEGMENT_RULES if r_score in rs and fm in fms]
            assert len(hits) == 1, (r_score, fm, hits)
    assert len(rfm.SEGMENTS) == 11


def test_merchant_isolation(con) -> None:  # type: ignore[no-untyped-def]
    other = con.execute(metrics.window_summary(con, Scope(2, SCOPE.start, SCOPE.end))).iloc[0]
    assert (other.orders, other.net_revenue_minor) == (1, 9999)


def test_scope_rejects_bad_windows() -> None:
    with pytest.raises(ValueError):
        Scope(1, date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(ValueError):
        Scope(1, date(2026, 1, 1), date(2026, 2, 1), "year")  # type: ignore[arg-type]


def _ts(s: str):  # type: ignore[no-untyped-def]
    from tests.analytics.builders import ts

    return ts(s)


def _temp_tables(con) -> int:  # type: ignore[no-untyped-def]
    return int(con.raw_sql("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()[0][0])


@pytest.mark.parametrize(
    "scope",
    [
        Scope(1, date(2024, 3, 1), date(2025, 11, 1), "month"),
        Scope(1, date(2024, 3, 6), date(2025, 2, 17), "week", Filters(stores=[10, 11])),
        Scope(1, date(2025, 1, 6), date(2025, 3, 3), "day", Filters(channels=["store"])),
        Scope(1, date(2024, 2, 10), date(2025, 7, 3), "month", Filters(tiers=["gold"])),
        Scope(1, date(2024, 2, 10), date(2025, 7, 3), "month", Filters(members=range(1, 900, 3))),
    ],
    ids=["month", "week-stores", "day-channel", "month-tier", "month-segment"],
)
def test_suite_on_cached_facts_equals_each_metric_alone(scope: Scope) -> None:
    """``compute_suite`` reads facts cached once per run (ADR 0503); every metric computed on
    its own from the orders gives exactly the same frame, and the cache is gone afterwards."""
    from bench.analytics_data import generate

    from patron.analytics.engines import connect_duckdb, load_tables
    from patron.analytics.suite import _run, comparison_frame

    con = connect_duckdb()
    load_tables(con, generate(3000, seed=11))
    suite = compute_suite(con, 1, scope.start, scope.end, scope.period, scope.filters)
    assert _temp_tables(con) == 0
    assert suite["customers"] > 0
    alone = {
        "kpis": _run(con, metrics.kpis_by_period(con, scope), period=scope.period),
        "pareto_curve": _run(con, metrics.pareto_curve(con, scope), None),
        "time_to_second_purchase": survival.kaplan_meier(
            _run(con, metrics.second_purchase_times(con, scope), None)
        ),
        "comparison": comparison_frame(
            con, scope, spans.like_for_like(scope.start, scope.end, scope.period)
        ),
        "members_vs_non_members": _run(con, metrics.members_vs_non_members(con, scope), None),
        "mau": _run(con, metrics.active_members(con, scope, "month"), period="month"),
        "rfm_grid": _run(con, rfm.rfm_grid(rfm.rfm_scores(con, scope)), None),
        "cohorts": _run(con, cohorts.cohort_matrix(con, scope), "cohort", "month"),
    }
    for name, frame in alone.items():
        assert len(frame) > 0, name
        pd.testing.assert_frame_equal(suite[name], frame, check_exact=True, obj=name)
    summary = con.execute(metrics.window_summary(con, scope)).iloc[0]
    assert suite["customers"] == summary.customers
    assert suite["repurchase_rate"] == summary.repurchase_rate
    assert suite["pareto_share"] == con.execute(metrics.pareto(con, scope)).iloc[0].pareto_share
