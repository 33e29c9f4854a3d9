"""Members through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.core.events import OutboxEvent
from patron.members.models import Member
from tests.conftest import Tenant

ANN = {
    "first_name": "Ann",
    "last_name": "Lee",
    "phone": "138 1234 5678",
    "email": "Ann.Lee@Example.com",
    "gender": "F",
    "birthday": "1990-05-17",
    "tags": ["vip", "oolong"],
    "external_ids": [{"namespace": "shopify", "value": "7001"}],
    "consents": [{"channel": "email", "granted": True, "source": "signup form"}],
    "preferences": {"categories": ["tea"], "styles": ["classic"], "colours": ["green"]},
}


def create(client: TestClient, tenant: Tenant, **overrides: Any) -> dict[str, Any]:
    r = client.post("/api/v1/members", json={**ANN, **overrides}, headers=tenant.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def count_members(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Member)) or 0)


def test_create_normalises_and_records_everything(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    m = create(client, tenant)
    assert m["phone"] == "+8613812345678"
    assert m["email"] == "ann.lee@example.com"
    assert m["gender"] == "female"
    assert m["funnel_stage"] == "member"
    assert m["tags"] == ["oolong", "vip"]
    assert {(i["kind"], i["namespace"], i["value"]) for i in m["identities"]} == {
        ("phone", "", "+8613812345678"),
        ("email", "", "ann.lee@example.com"),
        ("external", "shopify", "7001"),
    }
    assert [(c["channel"], c["granted"], c["source"]) for c in m["consents"]] == [
        ("email", True, "signup form")
    ]
    history = client.get(f"/api/v1/members/{m['id']}/funnel-history", headers=tenant.headers).json()
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [(None, "member")]
    types = list(db.scalars(select(OutboxEvent.type)))
    assert types == ["member.created"]


def test_duplicate_phone_is_409_and_nothing_created(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    first = create(client, tenant)
    r = client.post(
        "/api/v1/members",
        json={"first_name": "Bo", "phone": "+86 138-1234-5678"},
        headers=tenant.headers,
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "identity_taken"
    assert r.json()["error"]["details"]["member_id"] == first["id"]
    assert count_members(db) == 1


def test_bad_email_and_phone_are_422_and_change_nothing(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    r = client.post("/api/v1/members", json={"email": "not-an-email"}, headers=tenant.headers)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_email"
    r = client.post("/api/v1/members", json={"phone": "12"}, headers=tenant.headers)
    assert r.json()["error"]["code"] == "invalid_phone"
    r = client.post("/api/v1/members", json={"gender": "robot"}, headers=tenant.headers)
    assert r.json()["error"]["code"] == "invalid_gender"
    assert count_members(db) == 0
    assert db.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_search_by_phone_digits_email_name_tag_external_id(
    client: TestClient, tenant: Tenant
) -> None:
    ann = create(client, tenant)
    bo = create(
        client,
        tenant,
        first_name="Bo",
        last_name="Wang",
        phone="13998765432",
        email="bo@example.com",
        tags=["student"],
        external_ids=[{"namespace": "pos", "value": "C-9"}],
    )

    def ids(**params: str) -> list[int]:
        r = client.get("/api/v1/members", params=params, headers=tenant.headers)
        assert r.status_code == 200
        return [m["id"] for m in r.json()["items"]]

    assert ids(q="13812345678") == [ann["id"]]
    assert ids(q="5678") == [ann["id"]]
    assert ids(q="5432") == [bo["id"]]
    assert ids(q="BO@example.com") == [bo["id"]]
    assert ids(q="ann") == [ann["id"]]
    assert ids(q="wang") == [bo["id"]]
    assert ids(q="7001") == [ann["id"]]
    assert ids(q="C-9") == [bo["id"]]
    assert ids(tag="student") == [bo["id"]]
    assert ids(stage="member") == [bo["id"], ann["id"]]
    assert ids(q="nobody") == []


def test_pagination_walks_every_member_once(client: TestClient, tenant: Tenant) -> None:
    made = [
        create(client, tenant, phone=f"1390000{i:04d}", email=f"m{i}@x.com", external_ids=[])["id"]
        for i in range(7)
    ]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/members", params=params, headers=tenant.headers).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)


def test_update_moves_phone_identity(client: TestClient, tenant: Tenant) -> None:
    m = create(client, tenant)
    r = client.patch(
        f"/api/v1/members/{m['id']}", json={"phone": "13700000001"}, headers=tenant.headers
    )
    assert r.status_code == 200
    assert r.json()["phone"] == "+8613700000001"
    assert (
        client.get("/api/v1/members", params={"q": "13812345678"}, headers=tenant.headers).json()[
            "items"
        ]
        == []
    )
    found = client.get(
        "/api/v1/members", params={"q": "13700000001"}, headers=tenant.headers
    ).json()["items"]
    assert [f["id"] for f in found] == [m["id"]]


def test_notes_tags_and_consent_history(client: TestClient, tenant: Tenant) -> None:
    m = create(client, tenant)
    r = client.post(
        f"/api/v1/members/{m['id']}/notes",
        json={"body": "Asked about the new oolong; call back Friday", "channel": "phone"},
        headers=tenant.headers,
    )
    assert r.status_code == 201
    notes = client.get(f"/api/v1/members/{m['id']}/notes", headers=tenant.headers).json()
    assert [(n["channel"], n["body"]) for n in notes] == [
        ("phone", "Asked about the new oolong; call back Friday")
    ]
    assert notes[0]["author"].startswith("API key")
    assert client.post(
        f"/api/v1/members/{m['id']}/tags", json={"tags": ["gift", "vip"]}, headers=tenant.headers
    ).json() == [
        "gift",
        "oolong",
        "vip",
    ]
    assert client.delete(
        f"/api/v1/members/{m['id']}/tags/oolong", headers=tenant.headers
    ).json() == ["gift", "vip"]
    r = client.delete(f"/api/v1/members/{m['id']}/tags/absent", headers=tenant.headers)
    assert r.status_code == 404
    r = client.put(
        f"/api/v1/members/{m['id']}/consents",
        json={"channel": "email", "granted": False, "source": "unsubscribe link"},
        headers=tenant.headers,
    )
    assert r.json()["granted"] is False
    history = client.get(
        f"/api/v1/members/{m['id']}/consent-history", headers=tenant.headers
    ).json()
    assert [(h["granted"], h["source"]) for h in history] == [
        (False, "unsubscribe link"),
        (True, "signup form"),
    ]


def test_other_merchant_gets_404(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    m = create(client, tenant)
    for method, path in [
        ("GET", f"/api/v1/members/{m['id']}"),
        ("GET", f"/api/v1/members/{m['id']}/notes"),
        ("DELETE", f"/api/v1/members/{m['id']}/tags/vip"),
    ]:
        r = client.request(method, path, headers=other_tenant.headers)
        assert r.status_code == 404, (method, path)
    r = client.patch(
        f"/api/v1/members/{m['id']}", json={"first_name": "X"}, headers=other_tenant.headers
    )
    assert r.status_code == 404
    assert (
        client.get(f"/api/v1/members/{m['id']}", headers=tenant.headers).json()["first_name"]
        == "Ann"
    )
    assert client.get("/api/v1/members", headers=other_tenant.headers).json()["items"] == []
