"""Shared set-up for check-in and action tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Tenant

CHECK_IN: dict[str, Any] = {
    "streak_points": [5, 10, 15],
    "milestones": [{"day": 3, "points": 50}],
}
ACTIONS: dict[str, Any] = {
    "actions": [
        {
            "name": "review_written",
            "label": "Wrote a review",
            "points": 20,
            "cap_per_day": 2,
            "cap_per_week": 3,
            "cap_per_month": 4,
        },
        {
            "name": "social_follow",
            "label": "Followed us",
            "points": 10,
            "growth": 30,
            "cap_ever": 1,
        },
    ]
}


def put(client: TestClient, tenant: Tenant, kind: str, config: dict[str, Any]) -> None:
    r = client.put(f"/api/v1/programs/{kind}", headers=tenant.headers, json={"config": config})
    assert r.status_code == 200, r.text


def member(client: TestClient, tenant: Tenant, phone: str = "+8613900000009") -> int:
    r = client.post(
        "/api/v1/members", headers=tenant.headers, json={"first_name": "Ana", "phone": phone}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def points(client: TestClient, tenant: Tenant, member_id: int) -> int:
    r = client.get(f"/api/v1/members/{member_id}/balances", headers=tenant.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["balances"].get("points", 0))


def growth(client: TestClient, tenant: Tenant, member_id: int) -> int:
    r = client.get(f"/api/v1/members/{member_id}/balances", headers=tenant.headers)
    return int(r.json()["balances"].get("growth", 0))
