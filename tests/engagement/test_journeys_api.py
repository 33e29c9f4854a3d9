"""The journeys API: library → switch on → an order enrols → steps run → enrolments and stats;
the preference-matched promotion; bad input changes nothing."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.engagement.journeys import engine, triggers
from tests.conftest import Tenant


def test_after_sales_from_library_to_stats(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    h = tenant.headers
    keys = [j["key"] for j in client.get("/api/v1/journey-library", headers=h).json()]
    assert "birthday" in keys and "after_sales" in keys
    journey = client.post(
        "/api/v1/journeys/from-library",
        json={"key": "after_sales", "params": {"days": 1}},
        headers=h,
    ).json()
    assert (
        client.post(
            f"/api/v1/journeys/{journey['id']}/switch", json={"on": True}, headers=h
        ).json()["status"]
        == "on"
    )
    member = client.post("/api/v1/members", json={"first_name": "Mei"}, headers=h).json()
    order = client.post(
        "/api/v1/orders",
        json={
            "external_id": "A1",
            "member_id": member["id"],
            "lines": [{"sku": "t", "name": "Tea", "quantity": 1, "unit_price_minor": 100}],
        },
        headers=h,
    )
    with transaction(sessions) as s:
        triggers.follow_events(s)
    for _ in range(3):
        engine.run_due(sessions)
        clock.advance(timedelta(days=1))
        engine.run_due(sessions)
    page = client.get(f"/api/v1/members/{member['id']}/journey-enrolments", headers=h).json()
    [enrolment] = page["items"]
    assert enrolment["enrolment_key"] == f"{member['id']}:order.created:{order.json()['id']}"
    stats = client.get(f"/api/v1/journeys/{journey['id']}/stats", headers=h).json()
    assert stats["steps"]["wait1"] == {"waited": 1}
    assert stats["steps"]["how"] == {"done": 1}


def test_promotion_enrols_members_who_like_the_category(client: TestClient, tenant: Tenant) -> None:
    h = tenant.headers
    journey = client.post(
        "/api/v1/journeys/from-library", json={"key": "promotion"}, headers=h
    ).json()
    client.post(f"/api/v1/journeys/{journey['id']}/switch", json={"on": True}, headers=h)
    product = client.post(
        "/api/v1/products",
        json={"sku": "oolong", "name": "Oolong", "price_minor": 900, "category": "tea"},
        headers=h,
    ).json()
    fan = client.post(
        "/api/v1/members",
        json={"first_name": "A", "preferences": {"categories": ["tea"]}},
        headers=h,
    ).json()
    client.post(
        "/api/v1/members",
        json={"first_name": "B", "preferences": {"categories": ["coffee"]}},
        headers=h,
    )
    r = client.post(
        f"/api/v1/journeys/{journey['id']}/promote", json={"product_id": product["id"]}, headers=h
    )
    assert r.json() == {"enrolled": 1}
    items = client.get(f"/api/v1/journeys/{journey['id']}/enrolments", headers=h).json()["items"]
    assert [i["member_id"] for i in items] == [fan["id"]]


def test_a_bad_step_is_refused_and_nothing_is_saved(client: TestClient, tenant: Tenant) -> None:
    h = tenant.headers
    r = client.post(
        "/api/v1/journeys",
        json={
            "name": "Bad",
            "trigger": {"event": "order.created"},
            "steps": [{"id": "x", "type": "fly"}],
        },
        headers=h,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_journey_step")
    assert client.get("/api/v1/journeys", headers=h).json()["items"] == []
