"""Replays look the same everywhere: the first call 201, a replay 200 with
``Idempotent-Replayed: true`` and the first answer's body; nothing is written twice."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import Tenant
from tests.test_tenancy_body_ids import row_counts


def seed(client: TestClient, t: Tenant) -> dict[str, Any]:
    member = client.post("/api/v1/members", json={"first_name": "Mei"}, headers=t.headers).json()
    client.post(
        "/api/v1/products",
        json={"sku": "TEA", "name": "Tea", "price_minor": 500},
        headers=t.headers,
    )
    client.post(
        f"/api/v1/members/{member['id']}/adjustments",
        json={"asset": "points", "amount": 100, "reason_code": "welcome", "description": "Hi"},
        headers={**t.headers, "Idempotency-Key": "seed-points"},
    )
    item = client.post(
        "/api/v1/mall/items",
        json={"kind": "gift", "name": "Cup", "points_price": 5, "stock": 3},
        headers=t.headers,
    ).json()
    order = client.post(
        "/api/v1/orders",
        json={"external_id": "SEED-1", "lines": [{"sku": "TEA", "quantity": 2}]},
        headers=t.headers,
    ).json()
    return {"member_id": member["id"], "item_id": item["id"], "order_id": order["id"]}


def test_every_idempotent_write_replays_alike(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    ids = seed(client, tenant)
    m = ids["member_id"]
    writes: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/orders", {"external_id": "R-1", "lines": [{"sku": "TEA", "quantity": 1}]}),
        (
            f"/api/v1/orders/{ids['order_id']}/refunds",
            {"external_id": "RF-1", "lines": [{"line_no": 1, "quantity": 1}]},
        ),
        ("/api/v1/checkout/commit", {"member_id": m, "lines": [{"sku": "TEA", "quantity": 1}]}),
        (f"/api/v1/members/{m}/top-ups", {"amount_minor": 1000}),
        ("/api/v1/mall/redeem", {"member_id": m, "item_id": ids["item_id"]}),
        (
            f"/api/v1/members/{m}/adjustments",
            {"asset": "points", "amount": 7, "reason_code": "goodwill", "description": "sorry"},
        ),
    ]
    wrong: list[str] = []
    for path, body in writes:
        headers = {**tenant.headers, "Idempotency-Key": f"replay-{path}"}
        first = client.post(path, json=body, headers=headers)
        if first.status_code != 201 or "Idempotent-Replayed" in first.headers:
            wrong.append(f"{path} first: {first.status_code} {dict(first.headers)}")
            continue
        counts = row_counts(engine)
        again = client.post(path, json=body, headers=headers)
        if again.status_code != 200 or again.headers.get("Idempotent-Replayed") != "true":
            wrong.append(
                f"{path} replay: {again.status_code} {again.headers.get('Idempotent-Replayed')}"
            )
        if row_counts(engine) != counts:
            wrong.append(f"{path} replay wrote rows")
        if without_replay_flag(again.json()) != without_replay_flag(first.json()):
            wrong.append(f"{path} replay answered another body")
    assert not wrong, "\n".join(wrong)


def without_replay_flag(body: dict[str, Any]) -> dict[str, Any]:
    """Bodies that carry their own ``replayed`` field differ only there."""
    return {k: v for k, v in body.items() if k != "replayed"}
