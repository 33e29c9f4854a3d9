"""A hand-built shop for the analytics pages and the report (figures worked out by hand).

Merchant "alpha" (Asia/Shanghai, CNY), orders at local noon:

| member | date | store | net |
| --- | --- | --- | --- |
| Ann | 2026-01-05 | S1 | 100.00 |
| Ann | 2026-01-10 | S1 | 50.00 |
| Bo | 2026-01-20 | S1 | 30.00 |
| Ann | 2026-02-03 | WEB | 20.00 |
| Cai | 2026-02-11 | S1 | 70.00 |
| Bo | 2026-03-01 | WEB | 40.00 |

Window 2026-01-01 … 2026-03-31: 3 customers, 6 orders, 310.00; repurchase 2/3 (Ann 3, Bo 2);
AOV 51.67; all new → returning share 0; Pareto: top ceil(3/5)=1 customer (Ann, 170.00) =
54.8%; retention Feb 1/2 (Ann), Mar 0/2; second purchase after 5 (Ann) and 40 days (Bo).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.members import service as members
from patron.members.schemas import MemberCreate
from patron.orders import service as orders
from patron.orders.schemas import OrderCreate, OrderLineIn
from tests.analytics.conftest import cdnow_file
from tests.conftest import Tenant

ORDERS = [
    ("Ann", "2026-01-05", "S1", 10000),
    ("Ann", "2026-01-10", "S1", 5000),
    ("Bo", "2026-01-20", "S1", 3000),
    ("Ann", "2026-02-03", "WEB", 2000),
    ("Cai", "2026-02-11", "S1", 7000),
    ("Bo", "2026-03-01", "WEB", 4000),
]
PHONES = {"Ann": "+8613800000001", "Bo": "+8613800000002", "Cai": "+8613800000003"}


def seed_shop(sessions: sessionmaker[Session], tenant: Tenant) -> dict[str, int]:
    """The members and orders above; returns member ids by first name."""
    ids: dict[str, int] = {}
    with transaction(sessions) as s:
        for name, phone in PHONES.items():
            m = members.create_member(
                s, tenant.merchant_id, MemberCreate(first_name=name, phone=phone, registered=True)
            )
            ids[name] = m.id
        for n, (name, day, store, amount) in enumerate(ORDERS):
            y, mo, d = (int(p) for p in day.split("-"))
            orders.create_order(
                s,
                tenant.merchant_id,
                OrderCreate(
                    external_id=f"T-{n}",
                    member_id=ids[name],
                    store_id=tenant.store_id if store == "S1" else tenant.online_store_id,
                    placed_at=datetime(y, mo, d, 4, 0, tzinfo=UTC),  # 12:00 in Shanghai
                    lines=[OrderLineIn(name="Tea", quantity=1, unit_price_minor=amount)],
                ),
            )
    return ids


def crowd_history(customers: int = 60, seed: int = 7) -> list[list[tuple[int, int]]]:
    """Per customer, (day of 2025, amount) purchases drawn like the BG/NBD story: each buys at
    their own rate and may drop out after any purchase (fixed seed: the same every run)."""
    rng = random.Random(seed)
    out = []
    for _ in range(customers):
        rate = rng.gammavariate(0.8, 1 / 30)  # purchases per day
        drop = rng.betavariate(1.0, 3.0)
        spend = rng.gammavariate(3.0, 1500.0)  # this customer's typical basket, minor units
        day, days = rng.randrange(0, 330), []
        while day <= 430:
            days.append((day, 500 + round(spend * rng.gammavariate(6.0, 1 / 6)) // 10 * 10))
            if rng.random() < drop:
                break
            day += max(1, round(rng.expovariate(rate)))
        out.append(days)
    return out


def seed_crowd(sessions: sessionmaker[Session], tenant: Tenant, customers: int = 60) -> None:
    """Enough history for every chart, the lifetime fit included."""
    with transaction(sessions) as s:
        n = 0
        for i, history in enumerate(crowd_history(customers)):
            m = members.create_member(
                s,
                tenant.merchant_id,
                MemberCreate(first_name=f"C{i}", phone=f"+86139{i:08d}", registered=True),
            )
            for day, amount in history:
                orders.create_order(
                    s,
                    tenant.merchant_id,
                    OrderCreate(
                        external_id=f"K-{n}",
                        member_id=m.id,
                        store_id=tenant.store_id if n % 4 else tenant.online_store_id,
                        placed_at=datetime(2025, 1, 1, 4, 0, tzinfo=UTC) + timedelta(days=day),
                        lines=[OrderLineIn(name="Tea", quantity=1, unit_price_minor=amount)],
                    ),
                )
                n += 1


def seed_cdnow(
    sessions: sessionmaker[Session], tenant: Tenant, customers: int, before: str
) -> None:
    """The first ``customers`` customers of CDNOW's 1/10 sample, their purchases before
    ``before`` (YYYYMMDD), as members and orders (at noon in Shanghai)."""
    rows = []
    for line in cdnow_file("CDNOW_sample.txt").read_text().splitlines():
        _orig, cid, day, _cds, amount = line.split()
        if int(cid) <= customers and day < before:
            rows.append((int(cid), day, round(float(amount) * 100)))
    with transaction(sessions) as s:
        ids: dict[int, int] = {}
        for n, (cid, day, amount) in enumerate(rows):
            if cid not in ids:
                ids[cid] = members.create_member(
                    s,
                    tenant.merchant_id,
                    MemberCreate(first_name=f"D{cid}", phone=f"+86137{cid:08d}", registered=True),
                ).id
            at = datetime.strptime(day, "%Y%m%d").replace(hour=4, tzinfo=UTC)
            orders.create_order(
                s,
                tenant.merchant_id,
                OrderCreate(
                    external_id=f"CD-{n}",
                    member_id=ids[cid],
                    store_id=tenant.store_id,
                    placed_at=at,
                    lines=[OrderLineIn(name="CD", quantity=1, unit_price_minor=max(amount, 1))],
                ),
            )
