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

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.members import service as members
from patron.members.schemas import MemberCreate
from patron.orders import service as orders
from patron.orders.schemas import OrderCreate, OrderLineIn
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
