"""Sync from a real SQLite / PostgreSQL database into DuckDB: full, then incremental."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.engines import connect_duckdb
from patron.analytics.suite import compute_suite
from patron.analytics.sync import sync
from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory, transaction
from patron.members.models import Member
from patron.orders.models import Order, Refund
from tests.conftest import Tenant, make_tenant

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _member(s: Session, merchant: int, n: int) -> int:
    at = datetime(2025, 12, n, tzinfo=UTC)
    m = Member(
        merchant_id=merchant,
        first_name=f"M{n}",
        created_at=at,
        updated_at=at,
        registered_at=at,
        funnel_stage="customer",
    )
    s.add(m)
    s.flush()
    return m.id


def _order(s: Session, t: Tenant, member: int | None, at: datetime, total: int, ext: str) -> int:
    o = Order(
        merchant_id=t.merchant_id,
        external_id=ext,
        member_id=member,
        store_id=t.store_id,
        channel="store",
        status="completed",
        placed_at=at,
        currency="CNY",
        subtotal_minor=total,
        discount_minor=0,
        total_minor=total,
        refunded_minor=0,
        request_hash="h",
        created_at=at,
    )
    s.add(o)
    s.flush()
    return o.id


def test_sync_full_then_incremental(
    sessions: sessionmaker[Session], tenant: Tenant, tmp_path: Path
) -> None:
    with transaction(sessions) as s:
        a, b = _member(s, tenant.merchant_id, 1), _member(s, tenant.merchant_id, 2)
        first = _order(s, tenant, a, datetime(2026, 1, 3, 2, tzinfo=UTC), 1000, "o1")
        _order(s, tenant, a, datetime(2026, 1, 9, 2, tzinfo=UTC), 500, "o2")
        # 20:00 UTC on Jan 31 is Feb 1, 04:00 in Shanghai: a February order for the merchant.
        _order(s, tenant, b, datetime(2026, 1, 31, 20, tzinfo=UTC), 2000, "o3")
        _order(s, tenant, None, datetime(2026, 1, 10, 2, tzinfo=UTC), 300, "o4")
    path = str(tmp_path / "analytics.duckdb")
    with duckdb.connect(path) as duck:
        report = sync(sessions.kw["bind"], duck)
    assert report.rows_read["orders"] == 4
    assert report.rows_read["members"] == 2
    assert report.rows_read["stores"] == 2
    suite = _suite(path, tenant)
    k = suite["kpis"].set_index("period")
    # Jan (Shanghai): member a's 2 orders + the anonymous one; Feb: member b's.
    assert k.loc[date(2026, 1, 1), ["orders", "customers", "net_revenue_minor"]].tolist() == [
        3,
        1,
        1800,
    ]
    assert k.loc[date(2026, 2, 1), ["orders", "customers", "net_revenue_minor"]].tolist() == [
        1,
        1,
        2000,
    ]

    with transaction(sessions) as s:
        _order(s, tenant, b, datetime(2026, 2, 10, 2, tzinfo=UTC), 700, "o5")
        _order(s, tenant, a, datetime(2026, 2, 11, 2, tzinfo=UTC), 400, "o6")
        # A full refund of the first order, as the orders service records it.
        s.add(
            Refund(
                merchant_id=tenant.merchant_id,
                order_id=first,
                external_id="r1",
                refunded_at=T0,
                amount_minor=1000,
                request_hash="h",
                created_at=T0,
            )
        )
        s.execute(
            update(Order).where(Order.id == first).values(status="refunded", refunded_minor=1000)
        )
    with duckdb.connect(path) as duck:
        report = sync(sessions.kw["bind"], duck)
        copied = duck.execute("SELECT count(*) FROM orders").fetchall()
    # 2 new orders + the refunded one read again; one refund; members: only the row at the
    # updated_at watermark is read again (>=, so a row committed late with the same time is kept).
    assert report.rows_read["orders"] == 3
    assert report.rows_read["refunds"] == 1
    assert report.rows_read["members"] == 1
    assert report.rows_read["order_lines"] == 0
    assert copied == [(6,)]
    k = _suite(path, tenant)["kpis"].set_index("period")
    assert k.loc[date(2026, 1, 1), ["orders", "customers", "net_revenue_minor"]].tolist() == [
        2,
        1,
        800,
    ]
    assert k.loc[date(2026, 2, 1), ["orders", "customers", "net_revenue_minor"]].tolist() == [
        3,
        2,
        3100,
    ]

    with duckdb.connect(path) as duck:
        assert sync(sessions.kw["bind"], duck).rows_read["orders"] == 0


def test_sync_keeps_merchants_apart(
    sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant, tmp_path: Path
) -> None:
    with transaction(sessions) as s:
        _order(s, tenant, None, datetime(2026, 1, 3, 2, tzinfo=UTC), 1000, "a1")
        _order(s, other_tenant, None, datetime(2026, 1, 3, 2, tzinfo=UTC), 7000, "b1")
    path = str(tmp_path / "analytics.duckdb")
    with duckdb.connect(path) as duck:
        sync(sessions.kw["bind"], duck)
    assert _suite(path, tenant)["net_revenue_minor"] == 1000
    assert _suite(path, other_tenant)["net_revenue_minor"] == 7000


def _suite(path: str, tenant: Tenant) -> dict[str, object]:
    con = connect_duckdb(path)
    try:
        return compute_suite(con, tenant.merchant_id, date(2026, 1, 1), date(2026, 3, 1))
    finally:
        con.disconnect()


def test_late_commit_on_postgresql_is_picked_up(pg_only_engine: Engine, tmp_path: Path) -> None:
    """A transaction takes order id N, another takes N + 1 and commits first; the sync copies
    N + 1. Once N commits, the next sync finds it below the watermark (the re-scanned tail)."""
    sessions = make_session_factory(pg_only_engine, FrozenClock(T0))
    t = make_tenant(sessions, "late")
    with transaction(sessions) as s:
        a = _member(s, t.merchant_id, 1)
    slow = sessions()
    _order(slow, t, a, datetime(2026, 1, 3, 2, tzinfo=UTC), 1000, "slow")  # id N, not committed
    with transaction(sessions) as s:
        _order(s, t, a, datetime(2026, 1, 4, 2, tzinfo=UTC), 2000, "fast")  # id N + 1
    path = str(tmp_path / "analytics.duckdb")
    with duckdb.connect(path) as duck:
        assert sync(pg_only_engine, duck).rows_read["orders"] == 1
    slow.commit()
    slow.close()
    with duckdb.connect(path) as duck:
        without = sync(pg_only_engine, duck, rescan_ids=0)
        assert without.rows_read["orders"] == 0  # what the plain watermark would miss
        assert sync(pg_only_engine, duck).rows_read["orders"] == 1
        got = duck.execute("SELECT total_minor FROM orders ORDER BY id").fetchall()
    assert got == [(1000,), (2000,)]
