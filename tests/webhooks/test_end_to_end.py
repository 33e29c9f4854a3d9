"""Real domain writes through the API produce webhooks; refused writes produce none."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from patron.core.config import Settings
from tests.conftest import Tenant
from tests.webhooks.conftest import Receiver, add_endpoint, work


def test_member_created_through_the_api_is_delivered(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    endpoint = add_endpoint(client, tenant, receiver.url, ["member.created"])
    bad = client.post(
        "/api/v1/members", json={"phone": "12", "registered": True}, headers=tenant.headers
    )
    assert bad.status_code == 422
    r = client.post(
        "/api/v1/members",
        json={"phone": "13812345678", "registered": True},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text

    work(sessions, settings)
    (req,) = receiver.requests
    body = Webhook(endpoint["secret"]).verify(req.body, req.headers)
    assert body["type"] == "member.created"
    assert body["data"]["id"] == r.json()["id"]
    events = client.get("/api/v1/events", headers=tenant.headers).json()["items"]
    assert [(e["type"], e["subject_id"]) for e in events] == [("member.created", r.json()["id"])]
