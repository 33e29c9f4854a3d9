"""Earning for named actions through the API: caps per day / week / month / ever, the same
event id never earning twice, unknown actions, growth, engagement, tenancy and roles (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.ledger.verify import verify
from patron.members.models import Member
from tests.conftest import Tenant
from tests.rewards.helpers import ACTIONS, growth, member, points, put

DAY = timedelta(days=1)


def _act(
    client: TestClient, tenant: Tenant, m: int, event: str, action: str = "review_written"
) -> Any:
    r = client.post(
        f"/api/v1/members/{m}/actions",
        headers=tenant.clerk_headers,
        json={"action": action, "event_id": event},
    )
    return r


def test_caps_per_day_week_and_month(
    client: TestClient, tenant: Tenant, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    put(client, tenant, "actions", ACTIONS)
    m = member(client, tenant)
    # Tuesday 10 March 2026 (Shanghai): two a day earn, the third is capped.
    said = [_act(client, tenant, m, f"e{i}").json() for i in (1, 2, 3)]
    assert [(a["earned"], a["points"], a["refusal"]) for a in said] == [
        (True, 20, None),
        (True, 20, None),
        (False, 0, "cap_per_day"),
    ]
    clock.advance(DAY)  # Wednesday: the third of the week earns, the fourth is capped
    said = [_act(client, tenant, m, f"e{i}").json() for i in (4, 5)]
    assert [(a["earned"], a["refusal"]) for a in said] == [(True, None), (False, "cap_per_week")]
    clock.set(datetime(2026, 3, 16, 1, 0, tzinfo=UTC))  # Monday 16th, 09:00: a new week
    said = [_act(client, tenant, m, f"e{i}").json() for i in (6, 7)]
    assert [(a["earned"], a["refusal"]) for a in said] == [(True, None), (False, "cap_per_month")]
    clock.set(datetime(2026, 3, 31, 16, 30, tzinfo=UTC))  # 1 April 00:30 in Shanghai
    assert _act(client, tenant, m, "e8").json()["earned"] is True
    assert points(client, tenant, m) == 20 * 5
    lines = client.get(f"/api/v1/members/{m}/statement", headers=tenant.headers).json()["items"]
    assert lines[0]["description"] == "Reward for: Wrote a review: 20 points earned"
    assert len(lines) == 5  # capped events post nothing
    history = client.get(f"/api/v1/members/{m}/actions", headers=tenant.headers).json()
    assert [h["event_id"] for h in history["items"]] == [f"e{i}" for i in range(8, 0, -1)]
    with transaction(sessions) as s:
        assert verify(s, tenant.merchant_id) == []


def test_the_same_event_id_never_earns_twice(client: TestClient, tenant: Tenant) -> None:
    put(client, tenant, "actions", ACTIONS)
    m = member(client, tenant)
    first = _act(client, tenant, m, "review-42")
    assert first.status_code == 201
    again = _act(client, tenant, m, "review-42")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    changed = client.post(
        f"/api/v1/members/{m}/actions",
        headers=tenant.headers,
        json={"action": "review_written", "event_id": "review-42", "details": {"stars": 1}},
    )
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "event_id_reused"
    other = _act(client, tenant, m, "review-42", "social_follow")
    assert other.status_code == 409 and other.json()["error"]["code"] == "event_id_reused"
    someone = member(client, tenant, "+8613900000010")
    taken = _act(client, tenant, someone, "review-42")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "event_id_reused"
    assert points(client, tenant, m) == 20 and points(client, tenant, someone) == 0


def test_unknown_action_is_refused_with_the_list(client: TestClient, tenant: Tenant) -> None:
    m = member(client, tenant)
    none_yet = _act(client, tenant, m, "x1")
    assert none_yet.status_code == 422
    assert none_yet.json()["error"]["details"] == {"actions": []}
    put(client, tenant, "actions", ACTIONS)
    r = _act(client, tenant, m, "x2", "photo_shared")
    assert r.status_code == 422
    body = r.json()["error"]
    assert body["code"] == "unknown_action"
    assert body["details"] == {"actions": ["review_written", "social_follow"]}
    bad = client.post(
        f"/api/v1/members/{m}/actions",
        headers=tenant.headers,
        json={"action": "Not A Name", "event_id": "x3"},
    )
    assert bad.status_code == 422
    listed = client.get(f"/api/v1/members/{m}/actions", headers=tenant.headers).json()
    assert listed == {"items": [], "next_cursor": None}
    assert points(client, tenant, m) == 0


def test_growth_from_an_action_once_ever_and_engagement(
    client: TestClient, tenant: Tenant, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    put(client, tenant, "actions", ACTIONS)
    put(
        client,
        tenant,
        "tiers",
        {
            "tiers": [
                {"code": "tea", "name": "Tea", "threshold": 0},
                {"code": "jade", "name": "Jade", "threshold": 30},
            ]
        },
    )
    m = member(client, tenant)
    first = _act(client, tenant, m, "f1", "social_follow").json()
    assert (first["points"], first["growth"], first["earned"]) == (10, 30, True)
    clock.advance(40 * DAY)
    second = _act(client, tenant, m, "f2", "social_follow").json()
    assert (second["earned"], second["refusal"]) == (False, "cap_ever")
    assert (points(client, tenant, m), growth(client, tenant, m)) == (10, 30)
    tier = client.get(f"/api/v1/members/{m}/tier", headers=tenant.headers).json()
    assert tier["tier_code"] == "jade"
    _act(client, tenant, m, "r1")
    _act(client, tenant, m, "r2")  # the same action the same day: attention counted once
    with transaction(sessions) as s:
        found = s.get(Member, m)
        assert found is not None
        # 2 (follow, day 1) + 2 (follow, day 41) + 2 (review, day 41)
        assert found.engagement_score == 6
        assert verify(s, tenant.merchant_id) == []


def test_tenancy_and_roles(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    put(client, tenant, "actions", ACTIONS)
    put(client, other_tenant, "actions", ACTIONS)
    mine = member(client, tenant)
    body = {"action": "review_written", "event_id": "t1"}
    routes: list[tuple[str, str, Any]] = [
        ("post", f"/api/v1/members/{mine}/actions", body),
        ("get", f"/api/v1/members/{mine}/actions", None),
    ]
    for method, path, json in routes:
        r = client.request(method, path, headers=other_tenant.headers, json=json)
        assert r.status_code == 404 and r.json()["error"]["code"] == "member_not_found"
        assert client.request(method, path, json=json).status_code == 401
    for method, path, json in routes:
        r = client.request(method, path, headers=tenant.clerk_headers, json=json)
        assert r.status_code in (200, 201), r.text
    r = client.put(
        "/api/v1/programs/actions", headers=tenant.clerk_headers, json={"config": ACTIONS}
    )
    assert r.status_code == 403
    assert points(client, tenant, mine) == 20
