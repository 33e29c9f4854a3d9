"""A receiver that trickles its answer cannot hold a delivery past its deadline, nor the worker.

The receiver is a real socket server on loopback that answers 200 with a 100-byte body sent one
byte every 0.1 s (10 s in all): every read gets data well within any per-read timeout, so only a
deadline on the whole exchange stops it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.events import OutboxEvent
from patron.webhooks.delivery import deliver_due, fan_out
from patron.webhooks.models import WebhookAttempt, WebhookDelivery
from patron.worker import run_forever
from tests.conftest import Tenant
from tests.webhooks.conftest import add_endpoint, emit_committed

BODY_BYTES = 100
BYTE_EVERY = 0.1


class Trickle:
    """Answers every request with headers at once, then its body one byte at a time."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.requests = 0
        self.stopping = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.requests += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(f"HTTP/1.1 200 OK\r\ncontent-length: {BODY_BYTES}\r\n\r\n".encode())
                for _ in range(BODY_BYTES):
                    if self.stopping.is_set():
                        return
                    conn.sendall(b"x")
                    time.sleep(BYTE_EVERY)
            except OSError:
                return  # the client gave up

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    server = Trickle()
    yield server
    server.close()


def test_a_trickling_receiver_is_given_up_at_the_deadline_and_retried(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    trickle: Trickle,
) -> None:
    quick = settings.model_copy(update={"webhook_timeout_seconds": 0.5})
    add_endpoint(client, tenant, trickle.url, ["order.created"])
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})
    assert fan_out(sessions, quick) == 1

    began = time.monotonic()
    assert deliver_due(sessions, quick) == 1
    took = time.monotonic() - began

    assert trickle.requests == 1
    assert took < 0.5 + 1.0, f"the delivery took {took:.1f} s against a 0.5 s deadline"
    with sessions() as s:
        delivery = s.scalars(select(WebhookDelivery)).one()
        attempt = s.scalars(select(WebhookAttempt)).one()
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=5)
    assert delivery.locked_until is None
    assert attempt.status_code is None
    assert attempt.error == "DeadlineExceeded: no complete answer within 0.5 s"
    assert 500 <= attempt.duration_ms < 1500

    clock.advance(timedelta(seconds=5))
    assert deliver_due(sessions, quick) == 1
    assert trickle.requests == 2


def test_a_slow_delivery_does_not_hold_up_the_other_worker_tasks(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    trickle: Trickle,
) -> None:
    patient = settings.model_copy(
        update={"webhook_timeout_seconds": 4.0, "worker_poll_seconds": 0.05}
    )
    add_endpoint(client, tenant, trickle.url, ["order.created"])
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})
    stop = threading.Event()
    worker = threading.Thread(target=run_forever, args=(sessions, patient, stop), daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while trickle.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert trickle.requests == 1  # the delivery is now trickling, for up to 4 s
        second = emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 2})
        emitted = time.monotonic()
        fanned_out = None
        while time.monotonic() < emitted + 3:
            with sessions() as s:
                fanned_out = s.scalar(
                    select(OutboxEvent.fanned_out_at).where(OutboxEvent.id == second)
                )
            if fanned_out is not None:
                break
            time.sleep(0.02)
        waited = time.monotonic() - emitted
    finally:
        stop.set()
        worker.join(15)
    assert fanned_out is not None, "the other tasks waited for the slow delivery"
    assert waited < 1.5
    assert not worker.is_alive()


def test_a_slow_endpoint_holds_a_batch_two_deadlines_at_most(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    trickle: Trickle,
) -> None:
    quick = settings.model_copy(update={"webhook_timeout_seconds": 0.4})
    add_endpoint(client, tenant, trickle.url, ["order.created"])
    for n in range(5):
        emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": n})
    assert fan_out(sessions, quick) == 5

    began = time.monotonic()
    assert deliver_due(sessions, quick) == 5
    took = time.monotonic() - began

    assert took < 2 * 0.4 + 1.0, f"the batch took {took:.1f} s"
    # One after the other: after the first (one deadline), a second would end past two.
    assert trickle.requests == 1
    with sessions() as s:
        rows = s.execute(
            select(WebhookDelivery.attempts, WebhookDelivery.locked_until).order_by(
                WebhookDelivery.id
            )
        ).all()
    # One attempted and waiting for its retry; four untouched, due again at once.
    assert [tuple(r) for r in rows] == [(1, None), (0, None), (0, None), (0, None), (0, None)]
