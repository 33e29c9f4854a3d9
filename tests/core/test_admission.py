"""Admission control and pool exhaustion: a busy server refuses with 503 + Retry-After."""

from __future__ import annotations

import asyncio
import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from patron.app import create_app
from patron.core.admission import Slots
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory
from tests.conftest import Tenant, make_tenant


def test_slots_go_to_waiters_in_arrival_order_and_time_out() -> None:
    async def scenario() -> tuple[list[str], bool, int, int]:
        slots = Slots(1)
        order: list[str] = []
        assert await slots.take(0)

        async def waiter(name: str) -> None:
            if await slots.take(5):
                order.append(name)
                await asyncio.sleep(0.01)
                slots.give()

        first = asyncio.create_task(waiter("first"))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(waiter("second"))
        await asyncio.sleep(0.01)
        slots.give()
        await asyncio.gather(first, second)
        # All free again: one taken, the next waits 50 ms and is refused.
        assert await slots.take(0)
        refused = not await slots.take(0.05)
        return order, refused, slots.busy, len(slots.waiting)

    order, refused, busy, waiting = asyncio.run(scenario())
    assert order == ["first", "second"]
    assert refused is True
    assert (busy, waiting) == (1, 0)


def test_a_cancelled_waiter_leaves_no_slot_behind() -> None:
    async def scenario() -> tuple[int, int]:
        slots = Slots(1)
        await slots.take(0)
        task = asyncio.create_task(slots.take(5))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        slots.give()
        return slots.busy, len(slots.waiting)

    assert asyncio.run(scenario()) == (0, 0)


def test_requests_beyond_the_slots_get_503_with_retry_after(
    engine: Engine, clock: FrozenClock, settings: Settings, tenant: Tenant
) -> None:
    settings = settings.model_copy(
        update={"max_requests_in_flight": 1, "request_queue_seconds": 0.5}
    )
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    slots: Slots = app.state.request_slots
    assert slots.size == 1
    with TestClient(app) as client:
        slots.busy = 1  # the only slot is taken by a request still running
        began = time.monotonic()
        api = client.get("/api/v1/members", headers=tenant.headers)
        waited = time.monotonic() - began
        page = client.get("/login")
        health = client.get("/health")
        slots.busy = 0
        after = client.get("/api/v1/members", headers=tenant.headers)
    assert (api.status_code, api.headers["retry-after"]) == (503, "1")
    assert 0.5 <= waited < 1.0  # it waited its 0.5 s for a slot, then was refused at once
    assert api.json()["error"]["code"] == "overloaded"
    assert (page.status_code, page.headers["retry-after"]) == (503, "1")
    assert "正忙" in page.text
    assert health.status_code == 200
    assert after.status_code == 200
    assert slots.refused == 2


def test_no_free_database_connection_is_503_not_500(
    engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    tiny = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    assert isinstance(tiny.pool, QueuePool)
    tenant = make_tenant(make_session_factory(tiny, clock), "alpha")
    app = create_app(settings, engine=tiny, clock=clock, run_worker=False)
    try:
        with TestClient(app) as client, tiny.connect():  # the pool's only connection
            busy = client.get("/api/v1/members", headers=tenant.headers)
        with TestClient(app) as client:
            free = client.get("/api/v1/members", headers=tenant.headers)
    finally:
        tiny.dispose()
    assert (busy.status_code, busy.headers["retry-after"]) == (503, "1")
    assert busy.json()["error"]["code"] == "overloaded"
    assert free.status_code == 200


def test_on_sqlite_writes_also_take_one_of_two_write_slots(
    engine: Engine, clock: FrozenClock, settings: Settings, tenant: Tenant
) -> None:
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    writes: Slots | None = app.state.write_slots
    if engine.dialect.name == "postgresql":
        assert writes is None
        return
    assert writes is not None and writes.size == 2
    body = {"phone": "13800000001", "name": "Li"}
    with TestClient(app) as client:
        writes.busy = 2
        refused = client.post("/api/v1/members", json=body, headers=tenant.headers)
        read = client.get("/api/v1/members", headers=tenant.headers)
        writes.busy = 0
        created = client.post("/api/v1/members", json=body, headers=tenant.headers)
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "1")
    assert read.status_code == 200
    assert created.status_code == 201
    assert (writes.busy, app.state.request_slots.busy) == (0, 0)
    with TestClient(app) as client:
        listed = client.get("/api/v1/members", headers=tenant.headers).json()["items"]
    assert len(listed) == 1
