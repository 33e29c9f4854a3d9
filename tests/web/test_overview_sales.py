"""The overview's sales figures against an independent SQL computation on the operational
database (SQLite and PostgreSQL): revenue, orders, repurchase rate and active members for the
last 30 days and the 30 days before; clerks do not see them; another merchant sees none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics import page_cache
from patron.analytics.store import wait_for_syncs
from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.models import Message, MessageEvent
from patron.i18n import Formatter
from patron.portal.models import PortalVisit
from tests.conftest import Tenant
from tests.web.analytics_data import seed_shop
from tests.web.helpers import add_staff, sign_in, sign_in_as

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 3, 10)  # last 30 days: Feb 9 – Mar 10; the 30 before: Jan 10 – Feb 8


@pytest.fixture
def oclient(settings: Settings, engine: Engine, clock: FrozenClock) -> Iterator[TestClient]:
    page_cache.clear()
    clock.set(datetime(2026, 3, 10, 6, tzinfo=UTC))  # 14:00 in Shanghai
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    with TestClient(app) as c:
        yield c
    wait_for_syncs()


def utc(d: date) -> datetime:
    """Local midnight of ``d`` in the merchant's zone, as a naive UTC time (how rows store it)."""
    return datetime.combine(d, datetime.min.time(), ZONE).astimezone(UTC).replace(tzinfo=None)


SQL = {
    "revenue": """SELECT coalesce(sum(total_minor - refunded_minor), 0) FROM orders
        WHERE merchant_id = :m AND status NOT IN ('refunded', 'cancelled')
        AND placed_at >= :lo AND placed_at < :hi""",
    "orders": """SELECT count(*) FROM orders WHERE merchant_id = :m
        AND status NOT IN ('refunded', 'cancelled') AND placed_at >= :lo AND placed_at < :hi""",
    "repeat": """SELECT sum(CASE WHEN n >= 2 THEN 1 ELSE 0 END), count(*) FROM (
        SELECT member_id, count(*) AS n FROM orders WHERE merchant_id = :m
        AND member_id IS NOT NULL AND status NOT IN ('refunded', 'cancelled')
        AND placed_at >= :lo AND placed_at < :hi GROUP BY member_id) AS c""",
    "active": """SELECT count(DISTINCT member_id) FROM (
        SELECT member_id FROM orders WHERE merchant_id = :m AND member_id IS NOT NULL
          AND status NOT IN ('refunded', 'cancelled') AND placed_at >= :lo AND placed_at < :hi
        UNION ALL SELECT member_id FROM portal_visits WHERE merchant_id = :m
          AND visited_at >= :lo AND visited_at < :hi
        UNION ALL SELECT m.member_id FROM message_events e JOIN messages m ON m.id = e.message_id
          WHERE e.merchant_id = :m AND e.type IN ('opened', 'clicked')
          AND e.occurred_at >= :lo AND e.occurred_at < :hi) AS a""",
}


def independent(engine: Engine, merchant_id: int, first: date, after: date) -> dict[str, object]:
    args = {"m": merchant_id, "lo": utc(first), "hi": utc(after)}
    with engine.connect() as conn:
        revenue = int(conn.execute(text(SQL["revenue"]), args).scalar_one())
        orders = int(conn.execute(text(SQL["orders"]), args).scalar_one())
        repeaters, customers = conn.execute(text(SQL["repeat"]), args).one()
        active = int(conn.execute(text(SQL["active"]), args).scalar_one())
    rate = f"{100 * int(repeaters or 0) / customers:.0f}%" if customers else "—"
    return {"revenue": revenue, "orders": orders, "repeat": rate, "active": active}


def _card(html: str, key: str) -> tuple[str, str]:
    part = html.split(f'id="sales-{key}"', 1)[1].split('<div class="hint">', 1)[0]
    value = part.split('class="value">', 1)[1].split("<", 1)[0]
    delta = (
        part.split('class="delta', 1)[1].split(">", 1)[1].split("<", 1)[0]
        if "delta" in part
        else ""
    )
    return value, delta


def _activity(sessions: sessionmaker[Session], tenant: Tenant, ids: dict[str, int]) -> None:
    """Ann visits the portal on Mar 5 (active without buying); Cai opens a message on Jan 25."""
    with transaction(sessions) as s:
        s.add(
            PortalVisit(
                merchant_id=tenant.merchant_id,
                member_id=ids["Ann"],
                visited_on=date(2026, 3, 5),
                visited_at=datetime(2026, 3, 5, 2, tzinfo=UTC),
            )
        )
        at = datetime(2026, 1, 25, 2, tzinfo=UTC)
        msg = Message(
            merchant_id=tenant.merchant_id,
            member_id=ids["Cai"],
            channel="email",
            topic="marketing",
            kind="campaign",
            dedupe_key="t-1",
            context={},
            status="delivered",
            not_before=at,
            created_at=at,
            updated_at=at,
            opened_at=at,
        )
        s.add(msg)
        s.flush()
        s.add(
            MessageEvent(
                merchant_id=tenant.merchant_id,
                message_id=msg.id,
                type="opened",
                detail={},
                occurred_at=at,
            )
        )


def test_overview_sales_match_independent_sql(
    oclient: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    engine: Engine,
) -> None:
    ids = seed_shop(sessions, tenant)
    _activity(sessions, tenant, ids)
    sign_in(oclient, tenant)
    first = oclient.get("/dashboard")
    assert first.status_code == 200
    assert 'id="sales"' in first.text  # being prepared: the first sync runs in the background
    wait_for_syncs()
    html = oclient.get("/dashboard").text
    now = independent(engine, tenant.merchant_id, date(2026, 2, 9), date(2026, 3, 11))
    before = independent(engine, tenant.merchant_id, date(2026, 1, 10), date(2026, 2, 9))
    # By hand: Feb 9 – Mar 10 holds Cai 70.00 and Bo 40.00; Jan 10 – Feb 8 holds Ann 50.00,
    # Bo 30.00 and Ann 20.00. Active: Cai, Bo and Ann (portal) now; Ann, Bo, Cai (opened) before.
    assert now == {"revenue": 11000, "orders": 2, "repeat": "0%", "active": 3}
    assert before == {"revenue": 10000, "orders": 3, "repeat": "50%", "active": 3}
    money = Formatter("en", "CNY").money
    assert _card(html, "revenue") == (money(int(now["revenue"])), "+10%")  # type: ignore[call-overload]
    assert _card(html, "orders") == (str(now["orders"]), "-33%")
    assert _card(html, "repeat_rate") == (now["repeat"], "-50.0 pts")
    assert _card(html, "active_members") == (str(now["active"]), "+0%")
    assert "9 Feb – 10 Mar vs 10 Jan – 8 Feb" in html.replace("\u2009", " ")
    assert "Data as of" in html
    # Seven days: Mar 4–10 (Bo's 40.00 is on Mar 1, outside) against Feb 25 – Mar 3.
    week = oclient.get("/dashboard?days=7").text
    seven = independent(engine, tenant.merchant_id, date(2026, 3, 4), date(2026, 3, 11))
    assert _card(week, "orders")[0] == str(seven["orders"]) == "0"
    assert _card(week, "active_members")[0] == "1"  # Ann's portal visit

    # The other merchant sees only its own (empty) figures.
    oclient.post("/logout")
    sign_in(oclient, other_tenant)
    html = oclient.get("/dashboard").text
    assert _card(html, "orders")[0] == "0" and _card(html, "revenue")[0] == money(0)


def test_clerks_do_not_see_sales(
    oclient: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_shop(sessions, tenant)
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(oclient, email, password)
    html = oclient.get("/dashboard").text
    assert 'id="sales"' not in html and "Newest members" in html
