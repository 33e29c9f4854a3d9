"""Issue 10, item 17: an imported history's funnel moves are dated by the history.

Before, every move an import caused was stamped at the time of the import, so every past period
of the analytics funnel showed 0 in every stage, and imported customers were never members.
Customers are imported first (today: 2026-03-10), their 2025 orders the week after — the way
a merchant moves from another system — and the funnel of 2025 reads as it happened.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.engines import connect_duckdb
from patron.analytics.suite import compute_suite
from patron.analytics.sync import sync
from patron.core.db import transaction
from patron.imports.rows import ImportResult
from patron.imports.runner import FormatChoice, Kind, run_import
from patron.members.funnel import stage_path
from patron.members.models import FunnelTransition, Member
from tests.conftest import START, Tenant

MEMBERS = """\
external_id,email,phone,first_name,member_since
c1,ann@example.com,,Ann,2025-03-15T10:00:00+08:00
c2,bob@example.com,,Bob,
c3,cat@example.com,,Cat,
"""
ORDERS = """\
order_id,placed_at,member_id,name,quantity,unit_price
A1,2025-02-10T10:00:00+08:00,c1,Oolong,1,45.00
A2,2025-04-05T10:00:00+08:00,c1,Oolong,1,45.00
A3,2025-04-20T10:00:00+08:00,c1,Oolong,1,45.00
A4,2025-05-02T10:00:00+08:00,c1,Oolong,1,45.00
B1,2025-06-01T10:00:00+08:00,c2,Green tea,2,30.00
"""


def utc(day: str) -> datetime:
    """10:00 in Shanghai on ``day``, in UTC."""
    return datetime.fromisoformat(f"{day}T02:00:00+00:00")


def run(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    kind: Kind,
    data: str,
    fmt: FormatChoice = "generic",
) -> ImportResult:
    with transaction(sessions) as s:
        return run_import(s, tenant.merchant_id, kind, io.BytesIO(data.encode()), fmt=fmt)


def moves_of(db: Session, tenant: Tenant) -> dict[str, list[tuple[str | None, str, datetime]]]:
    db.rollback()
    rows = db.execute(
        select(
            Member.first_name,
            FunnelTransition.from_stage,
            FunnelTransition.to_stage,
            FunnelTransition.moved_at,
        )
        .join(Member, Member.id == FunnelTransition.member_id)
        .where(FunnelTransition.merchant_id == tenant.merchant_id)
        .order_by(Member.first_name, FunnelTransition.moved_at, FunnelTransition.id)
    ).all()
    out: dict[str, list[tuple[str | None, str, datetime]]] = {}
    for name, from_stage, to_stage, at in rows:
        out.setdefault(name, []).append((from_stage, to_stage, at))
    return out


def test_stage_path_replays_the_rules_at_the_dates_facts_changed() -> None:
    o1, o2, o3 = utc("2024-01-10"), utc("2024-02-01"), utc("2024-03-01")
    registered = utc("2024-01-20")
    now = utc("2025-06-01")
    # customer at the first purchase, member when registered, fan at the third purchase in a
    # year, member again the instant the first of the three leaves the year (fan window).
    assert stage_path(
        "user", o1 - timedelta(seconds=1), registered, [o1, o2, o3], now, "member"
    ) == [
        ("user", "customer", o1),
        ("customer", "member", registered),
        ("member", "fan", o3),
        ("fan", "member", o1 + timedelta(days=365, microseconds=1)),
    ]
    # What has no date (engagement made them a fan) moves at ``now``.
    assert stage_path("member", o3, registered, [o1, o2, o3], now, "fan") == [
        ("member", "fan", now)
    ]


def test_imported_history_dates_the_funnel_and_the_past_periods_count(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant, tmp_path: Path
) -> None:
    customers = run(sessions, tenant, "customers", MEMBERS)
    assert (customers.created, customers.rejected) == (3, 0)
    orders = run(sessions, tenant, "orders", ORDERS)
    assert (orders.created, orders.rejected) == (5, 0)

    fan_at, member_at = utc("2025-04-20"), datetime(2025, 3, 15, 2, tzinfo=UTC)
    expected = {
        "Ann": [
            (None, "user", utc("2025-02-10")),
            ("user", "customer", utc("2025-02-10")),
            ("customer", "member", member_at),
            ("member", "fan", fan_at),
        ],
        "Bob": [(None, "user", utc("2025-06-01")), ("user", "customer", utc("2025-06-01"))],
        "Cat": [(None, "user", START)],
    }
    assert moves_of(db, tenant) == expected
    people = {
        m.first_name: (m.funnel_stage, m.registered_at, m.created_at)
        for m in db.scalars(select(Member).where(Member.merchant_id == tenant.merchant_id))
    }
    assert people == {
        "Ann": ("fan", member_at, utc("2025-02-10")),
        "Bob": ("customer", None, utc("2025-06-01")),
        "Cat": ("user", None, START),
    }

    # The same files again: nothing moves, nothing is rewritten.
    before = db.scalars(select(FunnelTransition.id).order_by(FunnelTransition.id)).all()
    assert run(sessions, tenant, "customers", MEMBERS).unchanged == 3
    assert run(sessions, tenant, "orders", ORDERS).unchanged == 5
    assert moves_of(db, tenant) == expected
    assert db.scalars(select(FunnelTransition.id).order_by(FunnelTransition.id)).all() == before

    path = str(tmp_path / "analytics.duckdb")
    with duckdb.connect(path) as duck:
        sync(sessions.kw["bind"], duck)
    con = connect_duckdb(path)
    try:
        suite = compute_suite(con, tenant.merchant_id, date(2025, 1, 1), date(2025, 8, 1))
    finally:
        con.disconnect()
    counts = suite["funnel_counts"]
    got = {(p, st): int(n) for p, st, n in counts.itertuples(index=False) if n}  # type: ignore[union-attr]
    feb, mar, apr, may, jun, jul = (date(2025, m, 1) for m in range(2, 8))
    assert got == {
        (feb, "customer"): 1,
        (mar, "member"): 1,
        (apr, "fan"): 1,
        (may, "fan"): 1,
        (jun, "fan"): 1,
        (jun, "customer"): 1,
        (jul, "fan"): 1,
        (jul, "customer"): 1,
    }


def test_shopify_member_since_makes_a_customer_a_member_from_that_date(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    data = (
        "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Phone,Member Since\n"
        "'8001,Dan,Wu,dan@example.com,no,,2024-11-11\n"
        "'8002,Eve,Li,eve@example.com,no,,\n"
    )
    result = run(sessions, tenant, "customers", data, "shopify")
    assert (result.created, result.rejected) == (2, 0)
    since = datetime(2024, 11, 10, 16, tzinfo=UTC)  # midnight in Shanghai
    assert moves_of(db, tenant) == {
        "Dan": [(None, "user", since), ("user", "member", since)],
        "Eve": [(None, "user", START)],
    }
    stages = dict(db.execute(select(Member.first_name, Member.funnel_stage)).all())
    assert stages == {"Dan": "member", "Eve": "user"}
    assert (
        db.scalar(select(func.count()).select_from(Member).where(Member.registered_at.is_not(None)))
        == 1
    )
