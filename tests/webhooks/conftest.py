"""A real HTTP receiver on loopback, and helpers shared by the webhook tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.events import emit
from patron.webhooks.delivery import deliver_due, fan_out
from tests.conftest import Tenant


@pytest.fixture
def clock() -> FrozenClock:
    # Frozen, but at the real time: standardwebhooks' verify() refuses timestamps more than
    # five minutes away from the wall clock, and these tests verify with it.
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records every POST; answers from a plan of (status, delay) steps, then the default."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.plan: list[tuple[int, float]] = []
        self.default: tuple[int, float] = (200, 0.0)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status, delay = receiver.plan.pop(0) if receiver.plan else receiver.default
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "text/plain")
                    self.send_header("x-receiver", "test")
                    self.end_headers()
                    self.wfile.write(b"ok" if status < 300 else b"nope")
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def respond(self, *steps: tuple[int, float]) -> None:
        with self._lock:
            self.plan.extend(steps)

    def wait_for(self, count: int, seconds: float = 10.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return True
            time.sleep(0.02)
        return False


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def add_endpoint(
    client: TestClient, tenant: Tenant, url: str, event_types: list[str], **extra: Any
) -> dict[str, Any]:
    r = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": url, "event_types": event_types, **extra},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def emit_committed(
    sessions: sessionmaker[Session],
    merchant_id: int,
    type_: str,
    payload: dict[str, Any],
    subject_id: int | None = None,
) -> int:
    with transaction(sessions) as s:
        event = emit(s, merchant_id, type_, payload, subject_id)
        s.flush()
        return event.id


WEBHOOK_TASKS = (fan_out, deliver_due)


def work(sessions: sessionmaker[Session], settings: Settings) -> int:
    """What the worker's webhook tasks would do now, until idle (other domains' tasks, which
    also read the outbox, are left out so the counts are the webhooks' own)."""
    total = 0
    while True:
        done = sum(task(sessions, settings) for task in WEBHOOK_TASKS)
        total += done
        if done == 0:
            return total


def signature_ok(secret: str, req: Received) -> bool:
    """The signature check of standardwebhooks without its wall-clock window (time travel)."""
    ts = datetime.fromtimestamp(int(req.headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(req.headers["webhook-id"], ts, req.body.decode())
    return expected in req.headers["webhook-signature"].split(" ")
