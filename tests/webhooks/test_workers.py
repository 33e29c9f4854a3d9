"""Workers in parallel (PostgreSQL), the worker inside the app, and `patron worker --once`."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from patron.app import create_app
from patron.cli import app as cli_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings, get_settings
from patron.core.db import make_session_factory, transaction
from patron.core.events import emit
from patron.webhooks import service
from patron.webhooks.delivery import fan_out
from patron.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.conftest import Tenant, make_tenant
from tests.webhooks.conftest import Receiver, add_endpoint, emit_committed, work


def _settings_for(engine: Engine) -> Settings:
    return Settings(
        env="test",
        database_url=engine.url.render_as_string(hide_password=False),
        worker_in_process=False,
        log_json=False,
    )


def run_in_parallel(task: Callable[[], int]) -> list[int]:
    """Run ``task`` in two threads started together; return what each returned."""
    start = threading.Barrier(2)
    results: list[int] = []

    def run() -> None:
        start.wait()
        results.append(task())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_two_workers_deliver_each_message_exactly_once(
    pg_only_engine: Engine, clock: FrozenClock, receiver: Receiver
) -> None:
    sessions = make_session_factory(pg_only_engine, clock)
    settings = _settings_for(pg_only_engine)
    tenant = make_tenant(sessions, "alpha")
    with transaction(sessions) as s:
        service.create_endpoint(s, tenant.merchant_id, receiver.url, ["*"])
        for n in range(200):
            emit(s, tenant.merchant_id, "order.created", {"order_id": n}, subject_id=n)

    fanned = run_in_parallel(lambda: fan_out(sessions, settings))
    assert sum(fanned) == 200  # SKIP LOCKED: no event taken by both
    with sessions() as s:
        assert s.scalar(select(func.count(func.distinct(WebhookDelivery.event_id)))) == 200
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 200

    done = run_in_parallel(lambda: work(sessions, settings))

    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert len(ids) == 200
    assert set(ids.values()) == {1}
    assert sorted(r.json["data"]["order_id"] for r in receiver.requests) == list(range(200))
    with sessions() as s:
        statuses = Counter(s.scalars(select(WebhookDelivery.status)))
        assert statuses == {"succeeded": 200}
        assert s.scalar(select(func.count()).select_from(WebhookAttempt)) == 200
    assert sum(done) == 200
    assert all(n > 0 for n in done)  # both workers took part


def test_worker_inside_the_app_delivers(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    fast = settings.model_copy(update={"worker_poll_seconds": 0.05})
    app = create_app(fast, engine=engine, clock=clock, run_worker=True)
    with TestClient(app) as client:
        endpoint = add_endpoint(client, tenant, receiver.url, ["order.created"])
        emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 5})
        assert receiver.wait_for(1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sessions() as s:
                status = s.scalar(select(WebhookDelivery.status))
            if status == "succeeded":
                break
            time.sleep(0.05)
        assert status == "succeeded"
    (req,) = receiver.requests
    assert req.json["data"] == {"order_id": 5}
    assert req.headers["webhook-signature"].startswith("v1,")
    assert endpoint["secret"].startswith("whsec_")


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PATRON_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PATRON_LOG_JSON", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_worker_once_drains_and_exits(
    cli_env: None,
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    add_endpoint(client, tenant, receiver.url, ["*"])
    emit_committed(sessions, tenant.merchant_id, "member.created", {"member_id": 1})
    emit_committed(sessions, tenant.merchant_id, "member.updated", {"member_id": 1})
    result = CliRunner().invoke(cli_app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    handled = re.search(r"worker: (\d+) items handled", result.output)
    assert handled is not None, result.output
    assert int(handled.group(1)) >= 4  # 2 fan-outs + 2 deliveries, plus other domains' reads
    assert [r.json["type"] for r in receiver.requests] == ["member.created", "member.updated"]
