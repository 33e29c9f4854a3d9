"""Analytics pages: exact figures from the hand-built shop, CSV rows, filters, tenancy, Chinese."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics import page_cache
from patron.analytics.facts import Scope
from patron.analytics.lifetime import clear_cache, fit_lifetime, purchases_for_fit
from patron.analytics.store import read_copy, wait_for_syncs
from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from tests.conftest import Tenant
from tests.web.analytics_data import seed_cdnow, seed_crowd, seed_shop
from tests.web.helpers import csrf_of, sign_in

WINDOW = "period=month&from=2026-01-01&to=2026-03-31"


@pytest.fixture
def aclient(
    settings: Settings, engine: Engine, clock: FrozenClock, tmp_path: Path
) -> Iterator[TestClient]:
    clear_cache()
    page_cache.clear()
    mine = settings.model_copy(update={"analytics_path": str(tmp_path / "a.duckdb")})
    app = create_app(mine, engine=engine, clock=clock, run_worker=False)
    with TestClient(app) as c:
        yield c
    wait_for_syncs()


def opened(client: TestClient, url: str) -> str:
    """The page at ``url`` once the first background sync is done (the first view starts it
    and says the figures are being prepared)."""
    r = client.get(url)
    assert r.status_code == 200, r.text
    if 'id="preparing"' in r.text:
        wait_for_syncs()
        r = client.get(url)
        assert r.status_code == 200, r.text
    return r.text


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _kpi(html: str, key: str) -> str:
    part = html.split(f'id="kpi-{key}"', 1)[1]
    return part.split('class="value">', 1)[1].split("<", 1)[0]


def test_kpis_and_charts_exact(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_shop(sessions, tenant)
    sign_in(aclient, tenant)
    first = aclient.get(f"/analytics?{WINDOW}")
    # The first view starts the first sync in the background and says so (it reloads itself).
    assert 'id="preparing"' in first.text and 'http-equiv="refresh"' in first.text
    html = opened(aclient, f"/analytics?{WINDOW}")
    assert _kpi(html, "customers") == "3"
    assert _kpi(html, "repurchase_rate") == "66.7%"
    assert _kpi(html, "retention_rate") == "0%"  # March: neither of February's customers
    assert _kpi(html, "aov") == "CN¥51.67"
    # Repeat purchases: Ann's 50.00 and 20.00, Bo's 40.00 = 110.00 of 310.00.
    assert _kpi(html, "repeat_revenue_share") == "35.5%"
    assert _kpi(html, "returning_revenue_share") == "0%"  # everyone first bought in the window
    assert _kpi(html, "pareto_share") == "54.8%"
    assert "-50.0 pts" in html  # retention Feb 50% → Mar 0%
    keys = ("retention", "repeat_revenue", "cohorts", "funnel", "funnel_conversion")
    for key in (*keys, "active_members", "rfm", "pareto", "second_purchase"):
        assert f'id="fig-{key}"' in html, key
        assert f'href="/analytics/{key}.csv?{WINDOW}"' in html.replace("&amp;", "&")
    assert html.count('<svg class="chart') >= 9
    # Kaplan–Meier over Ann (5 days), Bo (40 days) and Cai (not yet, watched 48 days).
    assert "<dd>40</dd>" in html and "<dd>33.3%</dd>" in html  # median days, within 16 days
    assert 'id="fig-p_alive"' not in html  # 3 customers: too few to fit
    assert 'id="fig-uplift"' not in html  # no campaigns on this branch
    assert "Data as of" in html and "ago" in html


def test_csv_downloads_hold_the_exact_rows(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_shop(sessions, tenant)
    sign_in(aclient, tenant)
    assert aclient.get(f"/analytics/cohorts.csv?{WINDOW}").status_code == 409  # preparing
    opened(aclient, f"/analytics?{WINDOW}")
    r = aclient.get(f"/analytics/cohorts.csv?{WINDOW}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="cohorts_2026-01-01_2026-03-31.csv"' in r.headers["content-disposition"]
    assert r.text.splitlines() == [
        "cohort,months_since,customers,cohort_size,share,revenue_minor",
        "2026-01-01,0,2,2,1.0,18000",
        "2026-01-01,1,1,2,0.5,2000",
        "2026-01-01,2,1,2,0.5,4000",
        "2026-02-01,0,1,1,1.0,7000",
    ]
    retention = _rows(aclient.get(f"/analytics/retention.csv?{WINDOW}").text)
    assert [
        (x["period"], x["customers"], x["retained_customers"], x["retention_rate"])
        for x in retention
    ] == [
        ("2026-01-01", "2", "0", ""),
        ("2026-02-01", "2", "1", "0.5"),
        ("2026-03-01", "1", "0", "0.0"),
    ]
    gaps = aclient.get(f"/analytics/second_purchase.csv?{WINDOW}").text.splitlines()
    assert gaps == [
        "days,at_risk,second_purchases,censored,bought_again",
        f"5,3,1,0,{1 - (1 - 1 / 3)}",
        f"40,2,1,0,{1 - (1 - 1 / 3) * (1 - 1 / 2)}",
        f"48,1,0,1,{1 - (1 - 1 / 3) * (1 - 1 / 2)}",
    ]
    pareto = _rows(aclient.get(f"/analytics/pareto.csv?{WINDOW}").text)
    assert [(p["decile"], p["revenue_minor"]) for p in pareto] == [
        ("4", "17000"),
        ("7", "7000"),
        ("10", "7000"),
    ]
    rfm = _rows(aclient.get(f"/analytics/rfm.csv?{WINDOW}").text)
    assert sum(int(x["customers"]) for x in rfm) == 3
    assert sum(int(x["revenue_minor"]) for x in rfm) == 31000
    assert aclient.get(f"/analytics/nope.csv?{WINDOW}").status_code == 404


def test_store_and_channel_filters(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_shop(sessions, tenant)
    sign_in(aclient, tenant)
    html = opened(aclient, f"/analytics?{WINDOW}&store={tenant.store_id}")
    assert _kpi(html, "customers") == "3"
    assert _kpi(html, "repurchase_rate") == "33.3%"  # only Ann bought twice in S1
    assert _kpi(html, "aov") == "CN¥62.50"  # 250.00 / 4
    html = aclient.get(f"/analytics?{WINDOW}&channel=online").text
    assert _kpi(html, "customers") == "2"
    assert _kpi(html, "aov") == "CN¥30.00"
    weeks = aclient.get(f"/analytics/retention.csv?{WINDOW.replace('month', 'week')}").text
    assert weeks.splitlines()[1].startswith("2026-01-05,")  # ISO week of the first order


def test_tenancy_and_roles(
    aclient: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
) -> None:
    seed_shop(sessions, tenant)
    sign_in(aclient, other_tenant)
    html = opened(aclient, f"/analytics?{WINDOW}")
    assert "No purchases in this period yet" in html  # B sees none of A's orders
    assert aclient.get(f"/analytics?{WINDOW}&store={tenant.store_id}").status_code == 404
    assert aclient.get(f"/analytics/cohorts.csv?{WINDOW}").status_code == 404  # no chart


def test_chinese_and_refresh_button(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_shop(sessions, tenant)
    sign_in(aclient, tenant)
    opened(aclient, f"/analytics?{WINDOW}")
    page = aclient.get(f"/analytics?{WINDOW}")
    r = aclient.post(
        "/language",
        data={"locale": "zh_Hans", "next": f"/analytics?{WINDOW}", "csrf_token": csrf_of(page)},
    )
    assert r.status_code == 200
    html = r.text
    assert "复购率" in html and "同期群留存" in html and "帕累托曲线" in html
    assert "2026年1月" in html
    assert _kpi(html, "aov") == "¥51.67"
    r = aclient.post(
        "/analytics/sync", data={"csrf_token": csrf_of(r), "next": f"/analytics?{WINDOW}"}
    )
    assert r.status_code == 200 and "正在后台更新数据" in r.text
    wait_for_syncs()
    assert "数据截至" in r.text


def test_deltas_compare_the_same_days_of_the_month_before(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    """March 1–5 (the window ends on the 5th) against February 1–5, not all of February."""
    seed_shop(sessions, tenant)
    sign_in(aclient, tenant)
    html = opened(aclient, "/analytics?period=month&from=2026-01-01&to=2026-03-05")
    cards = {k: html.split(f'id="kpi-{k}"', 1)[1].split("</div>\n  </div>", 1)[0] for k in (
        "customers", "aov", "retention_rate", "repeat_revenue_share"
    )}  # fmt: skip
    # Mar 1–5: Bo (40.00); Feb 1–5: Ann (20.00). All of February had Ann and Cai (−50%).
    assert '<span class="delta ">+0%</span>' in cards["customers"]
    assert '<span class="delta up">+100%</span>' in cards["aov"]  # 40.00 vs 20.00
    # Retention: February's customers (Ann, Cai) in Mar 1–5: none; January's (Ann, Bo) in
    # Feb 1–5: Ann.
    assert _kpi(html, "retention_rate") == "0%"
    assert '<span class="delta down">-50.0 pts</span>' in cards["retention_rate"]
    assert '<span class="delta ">+0.0 pts</span>' in cards["repeat_revenue_share"]
    compared = "1–5 Mar vs 1–5 Feb"
    assert all(compared in card.replace("\u2009", "") for card in cards.values())


def test_lifetime_csv_downloads(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The probability-alive and lifetime-value CSVs hold the rows the charts are drawn from."""
    seed_crowd(sessions, tenant)
    sign_in(aclient, tenant)
    window = "period=month&from=2025-01-01&to=2026-03-31"
    html = opened(aclient, f"/analytics?{window}")
    assert 'id="fig-p_alive"' in html and 'id="fig-clv"' in html
    with read_copy(str(tmp_path / "a.duckdb")) as con:
        scope = Scope(tenant.merchant_id, date(2025, 1, 1), date(2026, 4, 1))
        status = fit_lifetime(purchases_for_fit(con, scope), scope)
    assert status.figures is not None and status.figures.clv is not None
    r = aclient.get(f"/analytics/p_alive.csv?{window}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = _rows(r.text)
    assert [(x["low"], x["high"]) for x in rows] == [
        (str(i / 10), str((i + 1) / 10)) for i in range(10)
    ]
    assert [int(x["customers"]) for x in rows] == status.figures.p_alive["customers"].tolist()
    assert sum(int(x["customers"]) for x in rows) == 60
    r = aclient.get(f"/analytics/clv.csv?{window}")
    assert r.status_code == 200
    rows = _rows(r.text)
    want = status.figures.clv
    assert [int(x["low_minor"]) for x in rows] == want["low_minor"].tolist()
    assert [int(x["customers"]) for x in rows] == want["customers"].tolist()
    assert rows[-1]["high_minor"] == ""  # the last bin is open


def test_a_fit_at_the_edge_is_not_shown(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    """CDNOW's first 60 customers over January–February 1997: BG/NBD's ``a`` runs to ~1e-13
    (nobody seems to drop out yet). The page says the model could not be fitted reliably."""
    seed_cdnow(sessions, tenant, customers=60, before="19970301")
    sign_in(aclient, tenant)
    html = opened(aclient, "/analytics?period=month&from=1997-01-01&to=1997-02-28")
    assert 'id="fig-p_alive"' not in html and 'id="fig-clv"' not in html
    assert 'id="lifetime-not-reliable"' in html
    assert "could not be fitted reliably" in html
    assert aclient.get("/analytics/p_alive.csv?from=1997-01-01&to=1997-02-28").status_code == 404


def test_a_copy_whose_first_sync_is_still_running_is_being_prepared(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Mid-way through the first sync some tables are copied and others not: the page must say
    the figures are being prepared (it used to compute, miss ``orders`` and answer 500)."""
    seed_shop(sessions, tenant)
    with duckdb.connect(str(tmp_path / "a.duckdb")) as duck:
        duck.execute(
            "CREATE TABLE _sync_state (table_name VARCHAR PRIMARY KEY, last_id BIGINT, "
            "last_ts TIMESTAMP, trigger_id BIGINT, synced_at TIMESTAMP)"
        )
        duck.execute("INSERT INTO _sync_state VALUES ('merchants', NULL, NULL, NULL, now())")
        duck.execute("CREATE TABLE merchants (id BIGINT, currency VARCHAR, timezone VARCHAR)")
    sign_in(aclient, tenant)
    r = aclient.get(f"/analytics?{WINDOW}")
    assert r.status_code == 200 and 'id="preparing"' in r.text
    html = opened(aclient, f"/analytics?{WINDOW}")  # the sync it started completes the copy
    assert _kpi(html, "customers") == "3"
