"""Analytics pages: exact figures from the hand-built shop, CSV rows, filters, tenancy, Chinese."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.lifetime import clear_cache
from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from tests.conftest import Tenant
from tests.web.analytics_data import seed_shop
from tests.web.helpers import csrf_of, sign_in

WINDOW = "period=month&from=2026-01-01&to=2026-03-31"


@pytest.fixture
def aclient(
    settings: Settings, engine: Engine, clock: FrozenClock, tmp_path: Path
) -> Iterator[TestClient]:
    clear_cache()
    mine = settings.model_copy(update={"analytics_path": str(tmp_path / "a.duckdb")})
    app = create_app(mine, engine=engine, clock=clock, run_worker=False)
    with TestClient(app) as c:
        yield c


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
    r = aclient.get(f"/analytics?{WINDOW}")
    assert r.status_code == 200, r.text
    html = r.text
    assert _kpi(html, "customers") == "3"
    assert _kpi(html, "repurchase_rate") == "66.7%"
    assert _kpi(html, "retention_rate") == "0%"  # March: neither of February's customers
    assert _kpi(html, "aov") == "CN¥51.67"
    assert _kpi(html, "returning_revenue_share") == "0%"
    assert _kpi(html, "pareto_share") == "54.8%"
    assert "-50.0 pts" in html  # retention Feb 50% → Mar 0%
    for key in ("retention", "cohorts", "funnel", "rfm", "pareto", "second_purchase"):
        assert f'id="fig-{key}"' in html, key
        assert f'href="/analytics/{key}.csv?{WINDOW}"' in html.replace("&amp;", "&")
    assert html.count('<svg class="chart') >= 6
    assert "<dd>22.5</dd>" in html and "<dd>50%</dd>" in html  # median days, within 16 days
    assert 'id="fig-p_alive"' not in html  # 3 customers: too few to fit
    assert 'id="fig-uplift"' not in html  # no campaigns on this branch


def test_csv_downloads_hold_the_exact_rows(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_shop(sessions, tenant)
    sign_in(aclient, tenant)
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
    assert gaps == ["days,customers", "5,1", "40,1"]
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
    html = aclient.get(f"/analytics?{WINDOW}&store={tenant.store_id}").text
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
    html = aclient.get(f"/analytics?{WINDOW}").text
    assert "No purchases in this period yet" in html  # B sees none of A's orders
    assert aclient.get(f"/analytics?{WINDOW}&store={tenant.store_id}").status_code == 404
    assert aclient.get(f"/analytics/cohorts.csv?{WINDOW}").status_code == 404  # no chart


def test_chinese_and_refresh_button(
    aclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_shop(sessions, tenant)
    sign_in(aclient, tenant)
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
    assert r.status_code == 200 and "数据已更新" in r.text
