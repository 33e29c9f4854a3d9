"""Campaign uplift from the analytics copy agrees with the campaign's own results (SQLite and
PostgreSQL): a launched campaign with a recorded holdout, purchases in and out of its window."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.campaigns import campaign_uplift
from patron.analytics.engines import connect_duckdb
from patron.analytics.facts import Scope
from patron.analytics.sync import sync
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.engagement.campaigns import results, service
from tests.conftest import Tenant
from tests.engagement.conftest import add_member
from tests.engagement.test_campaigns import _buy, _campaign, _recipients


def test_uplift_from_synced_campaign_matches_campaign_results(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock, tmp_path: Path
) -> None:
    members = [add_member(sessions, tenant.merchant_id) for _ in range(12)]
    campaign_id = _campaign(sessions, tenant, members, holdout_percent=50, results_window_days=7)
    _buy(sessions, tenant, members[0], "before", 999)  # before the launch
    clock.advance(timedelta(hours=1))
    with transaction(sessions) as s:
        service.launch(s, tenant.merchant_id, campaign_id)
    groups = _recipients(sessions, campaign_id)
    treated = sorted(m for m, (_d, g) in groups.items() if g == "treated")
    holdout = sorted(m for m, (_d, g) in groups.items() if g == "holdout")
    clock.advance(timedelta(days=1))
    _buy(sessions, tenant, treated[0], "t1", 1000)
    _buy(sessions, tenant, treated[0], "t2", 500)
    _buy(sessions, tenant, treated[1], "t3", 2000)
    _buy(sessions, tenant, holdout[0], "h1", 700)
    clock.advance(timedelta(days=7))
    _buy(sessions, tenant, holdout[1], "late", 5000)  # the 7-day window is over
    with sessions() as s:
        want = results.campaign_results(s, tenant.merchant_id, campaign_id)
    path = str(tmp_path / "a.duckdb")
    with duckdb.connect(path) as duck:
        assert sync(sessions.kw["bind"], duck).rows_read["campaign_recipients"] == 12
    con = connect_duckdb(path, read_only=True)
    scope = Scope(tenant.merchant_id, date(2026, 1, 1), date(2027, 1, 1), "month")
    got = campaign_uplift(con, scope, window_days=30)  # the campaign's own 7 days win
    assert got["campaign_id"].tolist() == [campaign_id]
    row = got.iloc[0]
    assert (row.treated, row.holdout) == (len(treated), len(holdout))
    rate, revenue = want["repurchase_rate"], want["revenue_per_member"]
    assert (row.treated_rate, row.holdout_rate) == (2 / len(treated), 1 / len(holdout))
    assert (row.rate_diff, row.rate_low, row.rate_high) == pytest.approx(
        (rate["difference"], rate["low"], rate["high"]), rel=1e-12
    )
    assert (row.revenue_diff, row.revenue_low, row.revenue_high) == pytest.approx(
        (revenue["difference"], revenue["low"], revenue["high"]), rel=1e-9
    )

    # The analytics pages and the report show the same figures, named after the campaign.
    from patron.analytics.insights import build_insights
    from patron.web.dashboard.analytics import labels_for

    with sessions() as s:
        found = build_insights(
            con,
            tenant.merchant_id,
            scope.start,
            scope.end,
            "month",
            scope.filters,
            labels_for("en", "CNY"),
            s,
        )
    figure = found.figure("uplift")
    assert figure is not None
    page = figure.rows.iloc[0]
    assert page.campaign == "Spring"
    assert (page.treated, page.holdout) == (len(treated), len(holdout))
    assert (page.rate_difference, page.rate_low, page.rate_high) == (
        row.rate_diff,
        row.rate_low,
        row.rate_high,
    )
    assert (page.revenue_difference_minor, page.revenue_low_minor, page.revenue_high_minor) == (
        row.revenue_diff,
        row.revenue_low,
        row.revenue_high,
    )
    # A window before the launch: no campaign, no uplift figure.
    early = build_insights(
        con,
        tenant.merchant_id,
        date(2025, 1, 1),
        date(2025, 6, 1),
        "month",
        scope.filters,
        labels_for("en", "CNY"),
    )
    assert early.figure("uplift") is None
