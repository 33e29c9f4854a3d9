"""A member with a full history (orders, points, stored value, coupons, messages, notes), and
what the tests compare before and after an erasure: the merchant's totals and every text cell."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import patron.models
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.engagement.messages import enqueue_message
from patron.ledger import queries
from patron.ledger import service as ledger
from patron.ledger.models import LedgerAccount
from patron.members.models import Member
from patron.orders.models import Order
from patron.privacy.tables import text_columns
from tests.conftest import Tenant
from tests.coupons.helpers import issue, template
from tests.ledger.helpers import info
from tests.programs.helpers import typical_program

FIRST, LAST = "Quentin", "Zebrowski"
EMAIL = "quentin.zebrowski@example.org"
PHONE = "+8613912345678"
STREET = "77 Quince Lane"
EXTERNAL = "SHOPQZ991"
TRACES = (FIRST, LAST, EMAIL, PHONE, "13912345678", STREET, EXTERNAL)


@dataclass
class History:
    member_id: int
    other_id: int
    order_ids: list[int]


def _post(client: TestClient, url: str, headers: dict[str, str], body: Any) -> dict[str, Any]:
    r = client.post(url, headers=headers, json=body)
    assert r.status_code in (200, 201), r.text
    out: dict[str, Any] = r.json()
    return out


def build_history(
    client: TestClient, sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> History:
    """Quentin: 3 orders (one partly refunded), points earned and spent, a top-up spent at the
    till, a coupon, two messages (one still queued), a note, tags, consent; Li Wei: one order."""
    m, h = tenant.merchant_id, tenant.headers
    typical_program(sessions, m)
    member = _post(
        client,
        "/api/v1/members",
        h,
        {
            "first_name": FIRST,
            "last_name": LAST,
            "email": EMAIL,
            "phone": PHONE,
            "gender": "male",
            "birthday": "1990-04-01",
            "address": {"line1": STREET, "city": "Hangzhou", "country": "CN"},
            "external_ids": [{"namespace": "shopify", "value": EXTERNAL}],
            "tags": ["vip", "oolong"],
            "consents": [{"channel": "email", "granted": True}],
        },
    )["id"]
    other = _post(
        client,
        "/api/v1/members",
        h,
        {"first_name": "Li", "last_name": "Wei", "phone": "+8613800000001"},
    )["id"]
    orders = []
    for ext, quantity, price in (("Q-1", 3, 10000), ("Q-2", 1, 120000)):
        orders.append(
            _post(
                client,
                "/api/v1/orders",
                tenant.clerk_headers,
                {
                    "external_id": ext,
                    "customer": {"phone": "13912345678", "first_name": FIRST},
                    "lines": [
                        {"name": "Longjing", "quantity": quantity, "unit_price_minor": price}
                    ],
                },
            )["id"]
        )
    _post(
        client,
        "/api/v1/orders",
        tenant.clerk_headers,
        {
            "external_id": "L-1",
            "member_id": other,
            "lines": [{"name": "Longjing", "quantity": 2, "unit_price_minor": 5000}],
        },
    )
    _post(
        client,
        f"/api/v1/orders/{orders[0]}/refunds",
        tenant.clerk_headers,
        {
            "external_id": "R-1",
            "lines": [{"line_no": 1, "quantity": 1}],
            "reason": f"{FIRST} changed his mind",
        },
    )
    _post(
        client,
        f"/api/v1/members/{member}/notes",
        tenant.clerk_headers,
        {"body": f"{FIRST} prefers oolong; call {PHONE}", "channel": "phone"},
    )
    clock.advance(timedelta(days=8))
    with transaction(sessions) as s:
        ledger.release_pending_points(s, m)
        ledger.spend_points(
            s, m, member, 500, info("redeem", f"Points paid part of {FIRST}'s gift")
        )
    _post(
        client,
        f"/api/v1/members/{member}/top-ups",
        {**tenant.clerk_headers, "Idempotency-Key": "tu-1"},
        {"amount_minor": 10000},
    )
    orders.append(
        _post(
            client,
            "/api/v1/checkout/commit",
            {**tenant.clerk_headers, "Idempotency-Key": "c-1"},
            {
                "phone": PHONE,
                "stored_value": "max",
                "lines": [{"name": "Tea", "quantity": 1, "unit_price_minor": 5000}],
            },
        )["order_id"]
    )
    issue(sessions, m, template(sessions, m), member)
    with transaction(sessions) as s:
        for key, at in (("hello-sent", None), ("hello-later", clock.now() + timedelta(days=3))):
            enqueue_message(
                s,
                m,
                member,
                "in_app",
                topic="service",
                kind="transactional",
                dedupe_key=key,
                content={"en": {"title": f"Hi {FIRST}", "body": f"Dear {FIRST} {LAST}, thanks"}},
                not_before=at,
            )
    return History(member, other, orders)


def totals(sessions: sessionmaker[Session], merchant_id: int) -> dict[str, Any]:
    """The merchant's figures that an erasure must not move."""
    with transaction(sessions) as s:
        found = queries.liability(s, merchant_id)
        orders = s.execute(
            select(
                func.count(),
                func.sum(Order.total_minor),
                func.sum(Order.refunded_minor),
            ).where(Order.merchant_id == merchant_id)
        ).one()
        members = s.execute(
            select(
                func.count(),
                func.sum(Member.orders_count),
                func.sum(Member.total_spent_minor),
            ).where(Member.merchant_id == merchant_id)
        ).one()
        stages = dict(
            s.execute(
                select(Member.funnel_stage, func.count())
                .where(Member.merchant_id == merchant_id)
                .group_by(Member.funnel_stage)
            ).all()
        )
        merchant_side = dict(
            s.execute(
                select(LedgerAccount.code, LedgerAccount.balance).where(
                    LedgerAccount.merchant_id == merchant_id, LedgerAccount.member_id.is_(None)
                )
            ).all()
        )
        return {
            "liability": (found.by_asset, found.points, found.stored_value),
            "orders": tuple(orders),
            "members": tuple(members),
            "stages": stages,
            "merchant_accounts": merchant_side,
        }


def analytics_figures(
    sessions: sessionmaker[Session], merchant_id: int, path: str
) -> dict[str, Any]:
    """Every figure of the analytics suite for March 2026, from a fresh sync of the copy."""
    import duckdb

    from patron.analytics.engines import connect_duckdb
    from patron.analytics.suite import compute_suite
    from patron.analytics.sync import sync

    with duckdb.connect(path) as duck:
        sync(sessions.kw["bind"], duck)
    con = connect_duckdb(path)
    try:
        suite = compute_suite(con, merchant_id, date(2026, 3, 1), date(2026, 4, 1))
    finally:
        con.disconnect()
    return {
        name: _comparable(value.to_dict("records") if hasattr(value, "to_dict") else value)
        for name, value in suite.items()
    }


def _comparable(value: Any) -> Any:
    """NaN (an undefined rate) as None, so two equal figures compare equal."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def traces(session: Session, strings: tuple[str, ...] = TRACES) -> list[tuple[str, str, str]]:
    """Every (table, column, string) where one of ``strings`` is still stored, any case."""
    found = []
    for table in patron.models.Base.metadata.sorted_tables:
        columns = text_columns(table)
        if not columns:
            continue
        for row in session.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                stored = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                for text in strings:
                    if text.lower() in stored.lower():
                        found.append((table.name, column.name, text))
    return sorted(set(found))
