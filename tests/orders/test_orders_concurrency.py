"""The same order posted 20 times at once over HTTP on PostgreSQL creates exactly one order.

The server may refuse part of a burst with 503 + Retry-After (admission control, ADR 0040); the
clients here do what a till does with that answer — wait and send the same request again — so the
test measures idempotency under concurrency, whatever share of the burst is admitted at first."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine, func, select

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import make_session_factory
from patron.core.events import OutboxEvent
from patron.orders.models import Order, OrderLine
from tests.conftest import make_tenant
from tests.live import live_server

BODY = {
    "external_id": "POS-77",
    "customer": {"phone": "13812340000"},
    "store_code": "S1",
    "lines": [{"sku": "T", "name": "Green tea", "quantity": 2, "unit_price_minor": 3300}],
}


def test_twenty_concurrent_identical_orders_make_one(
    pg_only_engine: Engine, clock: FrozenClock
) -> None:
    sessions = make_session_factory(pg_only_engine, clock)
    tenant = make_tenant(sessions, "alpha")
    settings = Settings(env="test", database_url="postgresql://unused", worker_in_process=False)
    app = create_app(settings, engine=pg_only_engine, clock=clock, run_worker=False)
    with (
        live_server(app) as url,
        httpx.Client(base_url=url, headers=tenant.headers, timeout=30) as http,
    ):

        def post(_: int) -> tuple[int, int]:
            r = http.post("/api/v1/orders", json=BODY)
            for _retry in range(20):
                if r.status_code != 503:
                    break
                assert r.headers["Retry-After"] == "1"
                time.sleep(0.2)  # shorter than Retry-After: the test need not wait a second
                r = http.post("/api/v1/orders", json=BODY)
            return r.status_code, r.json()["id"]

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(post, range(20)))
        conflicting = http.post("/api/v1/orders", json={**BODY, "store_code": "WEB"})
    statuses = sorted(s for s, _ in results)
    assert statuses == [200] * 19 + [201]
    assert len({order_id for _, order_id in results}) == 1
    assert conflicting.status_code == 409
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert s.scalar(select(func.count()).select_from(OrderLine)) == 1
        assert (
            s.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.type == "order.created")
            )
            == 1
        )
