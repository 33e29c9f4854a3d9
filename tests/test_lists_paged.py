"""Every list is paged by cursor, newest first (docs/api.md, ADR 0006)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant
from tests.test_tenancy_walk import seed_alpha

# List operations that are not a page of objects: a fixed catalogue or a member's small sets.
NOT_PAGED = {
    "segment_fields": "the fields of the rule language, a fixed catalogue",
    "journey_library": "the ready-made journeys, a fixed catalogue",
    "list_channels": "one setting per channel, five at most",
    "program_versions": "a program's rule versions",
    "list_member_notes": "one member's notes",
    "list_member_consents": "one member's consents",
    "member_consent_history": "one member's consent history",
    "member_funnel_history": "one member's funnel moves",
    "member_coupons": "one member's coupons",
    "list_consent_topics": "the merchant's consent topics in their order, a dozen or so",
}
SECOND = {
    "/api/v1/stores": {"code": "S2", "name": "Second street", "channel": "store"},
    "/api/v1/api-keys": {"name": "second", "role": "clerk"},
    "/api/v1/segments": {"name": "Second", "rules": {"field": "tag", "op": "has", "value": "x"}},
    "/api/v1/webhook-endpoints": {"url": "http://127.0.0.1:9/second", "event_types": ["*"]},
    "/api/v1/templates": {
        "name": "Second",
        "channel": "in_app",
        "variants": {"en": {"title": "Hi", "body": "Hello"}},
    },
    "/api/v1/coupon-templates": {"name": "Second", "kind": "amount_off", "amount_off_minor": 1},
    "/api/v1/mall/items": {"kind": "gift", "name": "Second", "points_price": 1},
    "/api/v1/gift-rules": {"name": "Second", "buy_sku": "Y", "gift_sku": "G", "gift_name": "G"},
    "/api/v1/journeys/from-library": {"key": "promotion", "name": "Second"},
}


def test_every_list_is_a_page_newest_first(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_alpha(client, tenant, sessions)
    for path, body in SECOND.items():
        r = client.post(path, json=body, headers=tenant.headers)
        assert r.status_code == 201, f"{path}: {r.text[:200]}"
    spec = client.get("/openapi.json").json()
    bare = []
    for path, item in spec["paths"].items():
        op = item.get("get")
        if op is None or not path.startswith("/api/v1") or op["operationId"] in NOT_PAGED:
            continue
        content = op["responses"].get("200", {}).get("content", {})
        answer = content.get("application/json", {}).get("schema", {})
        if answer.get("type") == "array":
            bare.append(op["operationId"])
    assert not bare, f"lists answering a bare array: {bare}"
    for path in SECOND:
        path = path.removesuffix("/from-library")
        first = client.get(path, params={"limit": 1}, headers=tenant.headers).json()
        assert len(first["items"]) == 1 and first["next_cursor"] is not None, path
        rest = client.get(
            path, params={"limit": 500, "cursor": first["next_cursor"]}, headers=tenant.headers
        ).json()
        ids = [first["items"][0]["id"]] + [i["id"] for i in rest["items"]]
        assert ids == sorted(ids, reverse=True) and len(ids) >= 2, path
        assert rest["next_cursor"] is None, path
