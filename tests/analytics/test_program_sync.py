"""Program metrics from a real database: data made by the services, synced, then measured.

Runs on SQLite and PostgreSQL. The merchant is in Asia/Shanghai; every action happens at 02:00
UTC (10:00 local), so local months are the UTC ones.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.engines import connect_duckdb
from patron.analytics.suite import compute_suite
from patron.analytics.sync import sync
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.coupons import mall
from patron.coupons import service as coupons
from patron.coupons.schemas import MallItemIn
from patron.ledger import service as ledger
from patron.ledger.journal import EntryInfo
from patron.orders.schemas import OrderCreate, OrderLineIn
from patron.orders.service import create_order
from patron.programs import stored_value, tiers
from tests.conftest import Tenant
from tests.coupons.helpers import template
from tests.programs.helpers import STORED, TIERS, new_member, set_rules

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


def _info(reason: str) -> EntryInfo:
    return EntryInfo(reason_code=reason, description=reason, actor="test")


def _january(sessions: sessionmaker[Session], t: Tenant, a: int, b: int) -> tuple[int, int]:
    """A earns 500 (expiring Feb 1) and spends 200; B earns 300 and 40 more for a mall gift it
    redeems; B tops up 100.00 (+20.00 bonus); two coupons, one used on an order, one voided."""
    m = t.merchant_id
    with transaction(sessions) as s:
        ledger.earn_points(s, m, a, 500, _info("earn"), expires_at=datetime(2026, 2, 1, tzinfo=UTC))
        ledger.earn_points(s, m, b, 340, _info("earn"))
        ledger.spend_points(s, m, a, 200, _info("spend"))
        stored_value.top_up(s, m, b, 10000, "top-up-1", "test")
        for member in (a, b):
            tiers.reevaluate(s, m, member, "registered")
    tid = template(sessions, m)
    with transaction(sessions) as s:
        code_a = coupons.issue_code(s, m, tid, a)
        code_b = coupons.issue_code(s, m, tid, b)
        order, _ = create_order(
            s,
            m,
            OrderCreate(
                external_id="o1",
                member_id=a,
                store_id=t.store_id,
                lines=[OrderLineIn(sku="X", name="X", quantity=1, unit_price_minor=5000)],
            ),
        )
        coupons.redeem_code(s, m, code_a.id, order.id, datetime(2026, 1, 5, 2, tzinfo=UTC))
        item = mall.create_item(s, m, MallItemIn(kind="gift", name="Mug", points_price=40))
        mall.redeem(s, m, b, item.id, 1, "mall-1", "test")
        return code_b.id, item.id


def test_program_metrics_from_services(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant, tmp_path: Path
) -> None:
    m = tenant.merchant_id
    clock.set(datetime(2026, 1, 5, 2, tzinfo=UTC))
    set_rules(sessions, m, tiers=TIERS, stored_value=STORED)
    a, b = new_member(sessions, m, "+8613800000001"), new_member(sessions, m, "+8613800000002")
    code_b, _item = _january(sessions, tenant, a, b)
    path = str(tmp_path / "analytics.duckdb")
    duck = duckdb.connect(path)
    sync(sessions.kw["bind"], duck)
    clock.set(datetime(2026, 2, 3, 2, tzinfo=UTC))
    with transaction(sessions) as s:
        assert ledger.expire_points(s, m) == 1  # A's lot: 300 left
        coupons.void_code(s, m, code_b, "mistake", "test")
    report = sync(sessions.kw["bind"], duck)
    # The expiry re-read A's lot (and only it); the coupon codes are re-read whole.
    assert report.rows_read["points_lots"] == 1
    assert report.rows_read["coupon_codes"] == 2
    lots = duck.execute("SELECT member_id, remaining FROM points_lots ORDER BY id").fetchall()
    assert lots == [(a, 0), (b, 300)]

    duck.close()
    con = connect_duckdb(path, read_only=True)
    suite = compute_suite(con, m, JAN, date(2026, 3, 1))
    # Issued 500 + 340; redeemed 200 (A) + 40 (B's mall gift); expired 300 in February.
    assert suite["points_flows"].to_dict("list") == {
        "period": [JAN, FEB],
        "issued": [840, 0],
        "redeemed": [240, 0],
        "expired": [0, 300],
    }
    assert suite["breakage_rate"] == 300 / (240 + 300)
    bal = {(p, k): v for p, k, v in suite["liability"].itertuples(index=False)}
    assert (bal[JAN, "points"], bal[FEB, "points"]) == (600, 300)
    assert (bal[FEB, "stored_principal"], bal[FEB, "stored_bonus"]) == (10000, 2000)
    assert suite["coupon_rates"].to_dict("list") == {
        "period": [JAN],
        "issued": [2],
        "redeemed": [1],
        "redemption_rate": [0.5],
    }
    assert suite["tier_distribution"].to_dict("list") == {"tier": ["silver"], "members": [2]}
    assert suite["mall_orders"].to_dict("list") == {
        "period": [JAN],
        "orders": [1],
        "members": [1],
        "points_spent": [40],
    }
