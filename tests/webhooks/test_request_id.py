"""The request id travels from the API into the worker's log lines (issue 11, ADR 0042).

A checkout's outbox events store the request's id; when the worker delivers their webhooks,
reads them for its consumers (segments, coupons, journeys) and sends the message a journey
queued for them, its JSON log lines carry the same ``request_id``, and never another request's.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.events import ConsumerCursor, OutboxEvent, emit
from patron.core.logging import JsonFormatter
from patron.core.migrate import downgrade, upgrade
from patron.engagement import policy
from patron.engagement.journeys import service as journeys
from patron.engagement.models import Message
from patron.worker import drain
from tests.conftest import Tenant
from tests.engagement.conftest import add_member
from tests.webhooks.conftest import Receiver, add_endpoint

GIVEN = "till-7:lunch-rush-0042"


@pytest.fixture
def worker_lines() -> Iterator[io.StringIO]:
    """Every line Patron's loggers write, as the JSON formatter writes them, DEBUG included."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("patron")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def _checkout(client: TestClient, tenant: Tenant, member: int, key: str, **headers: str) -> str:
    r = client.post(
        "/api/v1/checkout/commit",
        json={
            "member_id": member,
            "store_id": tenant.store_id,
            "lines": [{"name": "Oolong", "quantity": 1, "unit_price_minor": 4500}],
        },
        headers={**tenant.clerk_headers, "Idempotency-Key": key, **headers},
    )
    assert r.status_code == 201, r.text
    return r.headers["x-request-id"]


def test_worker_lines_about_a_checkouts_events_carry_its_request_id(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant: Tenant,
    receiver: Receiver,
    worker_lines: io.StringIO,
) -> None:
    add_endpoint(client, tenant, receiver.url, ["*"])
    with transaction(sessions) as s:
        journey = journeys.create_journey(
            s,
            tenant.merchant_id,
            "Thanks",
            {
                "trigger": {"event": "order.created"},
                "steps": [
                    {
                        "id": "thanks",
                        "type": "send",
                        "channel": "in_app",
                        "kind": "care",
                        "topic": "welcome",
                        "content": {"en": {"title": "Thank you", "body": "See you soon"}},
                    }
                ],
            },
        )
        journeys.switch(s, tenant.merchant_id, journey.id, True)
        # The clock is the real time here (webhook signatures): no quiet hours to wait for.
        policy.set_policy(
            s,
            tenant.merchant_id,
            cap_messages=10,
            cap_window_days=1,
            quiet_hours_enabled=False,
            quiet_start="21:00",
            quiet_end="09:00",
        )
    first, second = (
        add_member(sessions, tenant.merchant_id),
        add_member(sessions, tenant.merchant_id),
    )

    given = _checkout(client, tenant, first, "k-1", **{"X-Request-ID": GIVEN})
    made = _checkout(client, tenant, second, "k-2")  # the id the server made up
    assert given == GIVEN and made not in ("", GIVEN)
    drain(sessions, settings)

    with sessions() as s:
        events = s.execute(select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.request_id)).all()
        consumers = set(s.scalars(select(ConsumerCursor.name)))
        messages = dict(s.execute(select(Message.member_id, Message.request_id)).all())
    lines = [json.loads(line) for line in worker_lines.getvalue().splitlines()]
    assert messages == {first: GIVEN, second: made}
    assert {"segments", "coupons", "journeys"} <= consumers
    for rid in (GIVEN, made):
        mine = [e for e in events if e.request_id == rid]
        assert "order.created" in {e.type for e in mine}
        carried = [line for line in lines if line.get("request_id") == rid]
        delivered = [line for line in carried if line["msg"] == "webhook delivery attempted"]
        assert sorted(line["event_type"] for line in delivered) == sorted(e.type for e in mine)
        assert {line["status_code"] for line in delivered} == {200}
        read = {
            (line["consumer"], line["event_id"])
            for line in carried
            if line["msg"] == "outbox event handled"
        }
        assert read == {(c, e.id) for c in consumers for e in mine}
        sent = [line for line in carried if line["msg"] == "message handed to its channel"]
        assert [(line["channel"], line["outcome"]) for line in sent] == [("in_app", "sent")]
    # Lines about one request's events never carry the other's id.
    others = {e.id for e in events if e.request_id != GIVEN}
    assert not [
        line for line in lines if line.get("request_id") == GIVEN and line.get("event_id") in others
    ]


def test_events_written_outside_a_request_have_no_request_id(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    with transaction(sessions) as s:
        emit(s, tenant.merchant_id, "member.created", {"id": 1})
    with sessions() as s:
        assert s.scalars(select(OutboxEvent.request_id)).all() == [None]


def test_migration_adds_and_removes_the_request_id_columns(engine: Engine) -> None:
    def columns(table: str) -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns(table)}

    try:
        downgrade(engine, "0021_join")
        assert "request_id" not in columns("outbox_events") | columns("messages")
    finally:
        upgrade(engine)
    assert "request_id" in columns("outbox_events")
    assert "request_id" in columns("messages")
