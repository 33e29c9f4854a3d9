"""Delivery to a real HTTP receiver: signing, filtering, retries, replay, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.events import OutboxEvent, emit
from patron.webhooks.delivery import USER_AGENT, retry_delay
from patron.webhooks.models import WebhookDelivery
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, add_endpoint, emit_committed, signature_ok, work


def deliveries(client: TestClient, tenant: Tenant, **params: object) -> list[dict[str, object]]:
    r = client.get("/api/v1/webhook-deliveries", params=params, headers=tenant.headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, object]] = r.json()["items"]
    return items


def detail(client: TestClient, tenant: Tenant, delivery_id: object) -> dict[str, object]:
    r = client.get(f"/api/v1/webhook-deliveries/{delivery_id}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_retry_schedule_is_standard_webhooks() -> None:
    assert [retry_delay(n) for n in range(1, 10)] == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
        timedelta(hours=10),
        timedelta(hours=10),
    ]


def test_committed_event_is_delivered_once_and_signed(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    endpoint = add_endpoint(client, tenant, receiver.url + "/hooks", ["order.created"])
    event_id = emit_committed(
        sessions, tenant.merchant_id, "order.created", {"order_id": 7, "total": 12900}, 7
    )

    assert work(sessions, settings) == 2  # one event fanned out, one delivery sent
    assert work(sessions, settings) == 0
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    (delivery,) = deliveries(client, tenant)
    assert req.path == "/hooks"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"] == USER_AGENT
    assert req.headers["webhook-id"] == delivery["message_id"]
    assert str(delivery["message_id"]).startswith("msg_")
    assert req.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    stamp = clock.now().isoformat().replace("+00:00", "Z")
    expected = {
        "type": "order.created",
        "timestamp": stamp,
        "data": {"order_id": 7, "total": 12900},
    }
    assert Webhook(endpoint["secret"]).verify(req.body, req.headers) == expected

    got = detail(client, tenant, delivery["id"])
    assert got["status"] == "succeeded"
    assert got["event_id"] == event_id
    assert got["event_type"] == "order.created"
    assert got["attempt_count"] == 1
    assert got["delivered_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert got["next_attempt_at"] is None
    (attempt,) = got["attempts"]  # type: ignore[misc]
    assert attempt["status_code"] == 200
    assert attempt["response_body"] == "ok"
    assert attempt["response_headers"]["x-receiver"] == "test"
    assert attempt["error"] is None
    with sessions() as s:
        assert s.get(OutboxEvent, event_id).fanned_out_at == clock.now()  # type: ignore[union-attr]


def test_rolled_back_event_sends_nothing(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    add_endpoint(client, tenant, receiver.url, ["*"])
    with pytest.raises(RuntimeError), transaction(sessions) as s:
        emit(s, tenant.merchant_id, "order.created", {"order_id": 1})
        s.flush()
        raise RuntimeError("the purchase failed")

    assert work(sessions, settings) == 0
    assert receiver.requests == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEvent)) == 0
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_endpoints_get_only_their_event_types(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    add_endpoint(client, tenant, receiver.url + "/orders", ["order.created"])
    add_endpoint(client, tenant, receiver.url + "/all", ["*"])
    add_endpoint(client, tenant, receiver.url + "/members", ["member.created", "member.updated"])
    add_endpoint(client, tenant, receiver.url + "/off", ["*"], active=False)
    emit_committed(sessions, tenant.merchant_id, "order.created", {"n": 1})
    emit_committed(sessions, tenant.merchant_id, "member.created", {"n": 2})
    emit_committed(sessions, tenant.merchant_id, "order.refunded", {"n": 3})

    work(sessions, settings)
    got = sorted((r.path, r.json["type"]) for r in receiver.requests)
    assert got == [
        ("/all", "member.created"),
        ("/all", "order.created"),
        ("/all", "order.refunded"),
        ("/members", "member.created"),
        ("/orders", "order.created"),
    ]
    assert len(deliveries(client, tenant)) == 5


def test_500_is_retried_exactly_after_the_backoff(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    endpoint = add_endpoint(client, tenant, receiver.url, ["order.created"])
    receiver.respond((500, 0.0))
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})
    start = clock.now()

    work(sessions, settings)
    (delivery,) = deliveries(client, tenant)
    assert delivery["status"] == "pending"
    assert delivery["attempt_count"] == 1
    assert delivery["last_status_code"] == 500
    assert delivery["next_attempt_at"] == (start + timedelta(seconds=5)).isoformat().replace(
        "+00:00", "Z"
    )

    clock.advance(timedelta(seconds=4))
    assert work(sessions, settings) == 0
    assert len(receiver.requests) == 1  # not due yet: nothing sent

    clock.advance(timedelta(seconds=1))
    work(sessions, settings)
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert int(second.headers["webhook-timestamp"]) == int(first.headers["webhook-timestamp"]) + 5
    assert first.body == second.body
    assert signature_ok(endpoint["secret"], second)
    got = detail(client, tenant, delivery["id"])
    assert got["status"] == "succeeded"
    assert [a["status_code"] for a in got["attempts"]] == [500, 200]  # type: ignore[attr-defined]
    assert [a["response_body"] for a in got["attempts"]] == ["nope", "ok"]  # type: ignore[attr-defined]


def test_timeout_is_recorded_and_retried(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    fast = settings.model_copy(update={"webhook_timeout_seconds": 0.3})
    add_endpoint(client, tenant, receiver.url, ["order.created"])
    receiver.respond((200, 1.5))
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})

    work(sessions, fast)
    (delivery,) = deliveries(client, tenant)
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] is None
    # httpx's read timeout and the delivery's deadline are both 0.3 s: either may fire first.
    assert str(delivery["last_error"]).startswith(("ReadTimeout", "DeadlineExceeded"))
    (attempt,) = detail(client, tenant, delivery["id"])["attempts"]  # type: ignore[misc]
    assert attempt["status_code"] is None
    assert attempt["response_body"] is None
    assert attempt["error"] == delivery["last_error"]
    assert attempt["duration_ms"] >= 300

    clock.advance(timedelta(seconds=5))
    work(sessions, fast)
    assert detail(client, tenant, delivery["id"])["status"] == "succeeded"
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len(receiver.requests) == 2


def test_after_max_attempts_the_delivery_fails(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    three = settings.model_copy(update={"webhook_max_attempts": 3})
    add_endpoint(client, tenant, receiver.url, ["order.created"])
    receiver.default = (503, 0.0)
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})

    work(sessions, three)
    clock.advance(timedelta(seconds=5))
    work(sessions, three)
    clock.advance(timedelta(minutes=5))
    work(sessions, three)
    (delivery,) = deliveries(client, tenant, status="failed")
    assert delivery["attempt_count"] == 3
    assert delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] == 503
    assert deliveries(client, tenant, status="pending") == []

    clock.advance(timedelta(hours=30))
    assert work(sessions, three) == 0
    assert len(receiver.requests) == 3


def test_replay_delivers_again_with_a_new_id(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    endpoint = add_endpoint(client, tenant, receiver.url, ["order.created"])
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})
    work(sessions, settings)
    (original,) = deliveries(client, tenant)

    r = client.post(f"/api/v1/webhook-deliveries/{original['id']}/replay", headers=tenant.headers)
    assert r.status_code == 202, r.text
    replay = r.json()
    assert replay["replay_of_id"] == original["id"]
    assert replay["event_id"] == original["event_id"]
    assert replay["status"] == "pending"
    assert replay["message_id"] != original["message_id"]
    work(sessions, settings)
    assert [q.headers["webhook-id"] for q in receiver.requests] == [
        original["message_id"],
        replay["message_id"],
    ]
    assert receiver.requests[0].body == receiver.requests[1].body
    assert Webhook(endpoint["secret"]).verify(
        receiver.requests[1].body, receiver.requests[1].headers
    )

    # Replaying the original again appends to the chain of this (event, endpoint).
    r = client.post(f"/api/v1/webhook-deliveries/{original['id']}/replay", headers=tenant.headers)
    assert r.status_code == 202, r.text
    assert r.json()["replay_of_id"] == replay["id"]
    work(sessions, settings)
    assert len(receiver.requests) == 3
    assert [d["status"] for d in deliveries(client, tenant)] == ["succeeded"] * 3
    chain = deliveries(client, tenant, endpoint_id=endpoint["id"], event_id=original["event_id"])
    assert [(d["id"], d["replay_of_id"]) for d in chain] == [
        (r.json()["id"], replay["id"]),
        (replay["id"], original["id"]),
        (original["id"], None),
    ]


def test_rotated_secret_signs_new_deliveries(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    endpoint = add_endpoint(client, tenant, receiver.url, ["order.created"])
    r = client.post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=tenant.headers
    )
    assert r.status_code == 200
    new_secret = r.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != endpoint["secret"]

    r = client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test", headers=tenant.headers)
    assert r.status_code == 202, r.text
    work(sessions, settings)
    (req,) = receiver.requests
    assert req.json["type"] == "webhook.test"
    assert req.json["data"] == {
        "endpoint_id": endpoint["id"],
        "message": "a test event from Patron",
    }
    Webhook(new_secret).verify(req.body, req.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(req.body, req.headers)


def test_test_event_goes_to_that_endpoint_only(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    one = add_endpoint(client, tenant, receiver.url + "/one", ["*"])
    add_endpoint(client, tenant, receiver.url + "/two", ["*"])
    r = client.post(f"/api/v1/webhook-endpoints/{one['id']}/test", headers=tenant.headers)
    assert r.status_code == 202
    work(sessions, settings)
    assert [q.path for q in receiver.requests] == ["/one"]


def test_410_gone_deactivates_the_endpoint(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    endpoint = add_endpoint(client, tenant, receiver.url, ["order.created"])
    receiver.respond((410, 0.0))
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})
    work(sessions, settings)
    (delivery,) = deliveries(client, tenant)
    assert delivery["status"] == "failed"
    assert delivery["last_status_code"] == 410
    assert delivery["last_error"] == "410 Gone: the endpoint was deactivated"
    r = client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers)
    assert r.json()["active"] is False

    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 2})
    work(sessions, settings)
    assert len(receiver.requests) == 1
    assert len(deliveries(client, tenant)) == 1


def test_pending_delivery_of_a_deactivated_endpoint_fails_unsent(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    receiver: Receiver,
) -> None:
    endpoint = add_endpoint(client, tenant, receiver.url, ["order.created"])
    receiver.respond((500, 0.0))
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 1})
    work(sessions, settings)
    r = client.patch(
        f"/api/v1/webhook-endpoints/{endpoint['id']}",
        json={"active": False},
        headers=tenant.headers,
    )
    assert r.status_code == 200
    clock.advance(timedelta(seconds=5))
    work(sessions, settings)
    (delivery,) = deliveries(client, tenant)
    assert delivery["status"] == "failed"
    assert delivery["last_error"] == "endpoint is inactive"
    assert delivery["attempt_count"] == 1
    assert len(receiver.requests) == 1
