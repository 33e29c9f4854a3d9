"""Tenancy: merchant B's key gets 404 for every one of merchant A's objects, on every route.

The walk is generic over the app's routes: a new route with a path parameter this test does not
know fails here until its parameter (and, for writes, a valid sample body) is added below.
List routes without parameters must not leak A's data to B.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Tenant

MARKERS = ("+8613812345678", "A-SECRET-ORDER", "alpha-only-sku", "hidden@alpha-shop.com")

# Valid request bodies by operation id, so that validation passes and the tenancy check decides.
SAMPLE_BODIES: dict[str, Any] = {
    "update_member": {"first_name": "Mallory"},
    "add_member_tags": {"tags": ["stolen"]},
    "add_member_note": {"body": "hello"},
    "set_member_consent": {"channel": "email", "granted": False},
    "merge_members": {"other_member_id": 0},
    "update_product": {"name": "renamed"},
    "refund_order": {"external_id": "R-B"},
}


def seed_alpha(client: TestClient, a: Tenant) -> dict[str, Any]:
    """One object of every kind for merchant A; returns the ids by path parameter name."""
    member = client.post(
        "/api/v1/members",
        json={"phone": MARKERS[0], "email": MARKERS[3], "tags": ["vip"]},
        headers=a.headers,
    ).json()
    other = client.post("/api/v1/members", json={"first_name": "Other"}, headers=a.headers).json()
    product = client.post(
        "/api/v1/products",
        json={"sku": MARKERS[2], "name": "x", "price_minor": 100},
        headers=a.headers,
    ).json()
    order = client.post(
        "/api/v1/orders",
        json={
            "external_id": MARKERS[1],
            "member_id": member["id"],
            "lines": [{"sku": MARKERS[2], "quantity": 1}],
        },
        headers=a.headers,
    ).json()
    keys = client.get("/api/v1/api-keys", headers=a.headers).json()
    SAMPLE_BODIES["merge_members"] = {"other_member_id": other["id"]}
    return {
        "member_id": member["id"],
        "product_id": product["id"],
        "order_id": order["id"],
        "store_id": a.store_id,
        "key_id": keys[0]["id"],
        "tag": "vip",
    }


def api_operations(client: TestClient) -> list[tuple[str, str, str]]:
    """(method, path, operation id) of every API operation, from the OpenAPI document."""
    spec = client.get("/openapi.json").json()
    return [
        (method.upper(), path, op.get("operationId", ""))
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1")
        for method, op in item.items()
    ]


def test_every_route_hides_merchant_a_from_merchant_b(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    ids = seed_alpha(client, tenant)
    checked = 0
    for method, template, operation_id in api_operations(client):
        params = re.findall(r"{(\w+)}", template)
        if not params:
            if method == "GET":
                r = client.get(template, headers=other_tenant.headers)
                leaked = [m for m in MARKERS if m in r.text]
                assert not leaked, f"{method} {template} shows A's data to B: {leaked}"
            continue
        missing = [p for p in params if p not in ids]
        assert not missing, f"{template}: add an object of A for {missing} to seed_alpha"
        path = template.format(**ids)
        body = SAMPLE_BODIES.get(operation_id)
        r = client.request(method, path, json=body, headers=other_tenant.headers)
        assert r.status_code == 404, f"{method} {path} with B's key: {r.status_code} {r.text[:200]}"
        checked += 1
    assert checked >= 15
    # and nothing of A's changed
    m = client.get(f"/api/v1/members/{ids['member_id']}", headers=tenant.headers).json()
    assert (m["first_name"], m["tags"], m["merged_into_id"]) == (None, ["vip"], None)
    order = client.get(f"/api/v1/orders/{ids['order_id']}", headers=tenant.headers).json()
    assert (order["status"], order["refunded_minor"]) == ("completed", 0)
