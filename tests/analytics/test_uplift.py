"""Uplift intervals against published worked examples."""

from __future__ import annotations

from datetime import date

import pytest

from patron.analytics.campaigns import campaign_uplift
from patron.analytics.facts import Scope
from patron.analytics.uplift import mean_difference, rate_difference, wilson_interval
from tests.analytics.builders import Shop, ts
from tests.analytics.conftest import duck_of


def test_wilson_interval_newcombe_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 → 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_rate_difference_newcombe_method_10() -> None:
    # Newcombe (1998) table II, example (a): 56/70 vs 48/80 → difference 0.2000,
    # method 10 interval 0.0524 to 0.3339.
    d = rate_difference(56, 70, 48, 80)
    assert d.difference == pytest.approx(0.2, abs=1e-12)
    assert (round(d.low, 4), round(d.high, 4)) == (0.0524, 0.3339)


def test_mean_difference_welch() -> None:
    # Treated 1,2,3,4,5 (mean 3, var 2.5); holdout 0,0,1,1 (mean 0.5, var 1/3).
    # se² = 2.5/5 + (1/3)/4 = 7/12; dof = (49/144) / (1/16 + 1/432) = 5.25 exactly;
    # t(0.975, 5.25) = 2.5340… → half width 2.5340 × √(7/12) = 1.9355… (same as scipy's
    # ttest_ind(equal_var=False).confidence_interval()).
    d = mean_difference([1, 2, 3, 4, 5], [0, 0, 1, 1])
    assert d.difference == 2.5
    assert (round(d.low, 4), round(d.high, 4)) == (0.5645, 4.4355)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    with pytest.raises(ValueError):
        mean_difference([1.0], [1.0, 2.0])


def test_campaign_uplift_from_recipients() -> None:
    s = Shop()
    launch = ts("2026-01-10 10:00")
    for m in range(1, 8):
        group = "treated" if m <= 4 else "holdout"
        s.row("campaign_recipients", campaign_id=1, member_id=m, group=group, launched_local=launch)
    # Campaign 2 has no holdout: no uplift can be measured, it is left out.
    s.row("campaign_recipients", campaign_id=2, member_id=1, group="treated", launched_local=launch)
    s.order(1, "2026-01-12 09:00", 3000)
    s.order(1, "2026-01-15 09:00", 1000)
    s.order(2, "2026-01-09 09:00", 5000)  # before the launch
    s.order(3, "2026-02-09 09:59", 2000)  # last minute of the 30-day window
    s.order(4, "2026-01-20 09:00", 1000, refunded=1000)  # fully refunded: no purchase
    s.order(5, "2026-01-20 09:00", 1500)
    s.order(6, "2026-02-09 10:00", 800)  # window over
    scope = Scope(1, date(2026, 1, 1), date(2026, 2, 1), "month")
    got = campaign_uplift(duck_of(s), scope, window_days=30)
    assert got["campaign_id"].tolist() == [1]
    row = got.iloc[0]
    assert (row.treated, row.holdout) == (4, 3)
    rate = rate_difference(2, 4, 1, 3)  # treated: 1 and 3 bought; holdout: 5
    revenue = mean_difference([4000, 0, 2000, 0], [1500, 0, 0])
    assert (row.treated_rate, row.holdout_rate) == (0.5, 1 / 3)
    assert (row.rate_diff, row.rate_low, row.rate_high) == pytest.approx(
        (rate.difference, rate.low, rate.high), rel=1e-12
    )
    assert (row.treated_revenue, row.holdout_revenue) == (1500.0, 500.0)
    assert (row.revenue_diff, row.revenue_low, row.revenue_high) == pytest.approx(
        (revenue.difference, revenue.low, revenue.high), rel=1e-12
    )


def test_a_group_of_one_is_left_out_not_an_error() -> None:
    # A small shop's campaign whose holdout drew one member: no interval can be computed, so
    # the campaign is left out (the analytics page answered 500 on the 80-member demo).
    s = Shop()
    launch = ts("2026-01-10 10:00")
    for m in range(1, 5):
        group = "treated" if m <= 3 else "holdout"
        s.row("campaign_recipients", campaign_id=1, member_id=m, group=group, launched_local=launch)
    for m in range(5, 9):
        s.row(
            "campaign_recipients",
            campaign_id=2,
            member_id=m,
            group="treated" if m <= 6 else "holdout",
            launched_local=launch,
        )
    s.order(1, "2026-01-12 09:00", 3000)
    s.order(7, "2026-01-12 09:00", 1000)
    scope = Scope(1, date(2026, 1, 1), date(2026, 2, 1), "month")
    got = campaign_uplift(duck_of(s), scope, window_days=30)
    assert got["campaign_id"].tolist() == [2]
    assert (got.iloc[0].treated, got.iloc[0].holdout) == (2, 2)
