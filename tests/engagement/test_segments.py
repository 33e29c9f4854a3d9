"""Segments: rules evaluated in SQL, live counts, materialisation, kept current — both databases."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.events import OutboxEvent
from patron.engagement.segments.service import create_segment, follow_events, member_ids_in
from patron.imports.runner import run_import
from patron.members.models import Member
from patron.worker import drain
from tests.conftest import Tenant
from tests.imports.fixtures import SHOPIFY_CUSTOMERS


def member(client: TestClient, tenant: Tenant, **body: Any) -> int:
    r = client.post("/api/v1/members", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def order(
    client: TestClient,
    tenant: Tenant,
    member_id: int,
    ext: str,
    category: str = "tea",
    price: int = 5000,
) -> None:
    r = client.post(
        "/api/v1/orders",
        json={
            "external_id": ext,
            "member_id": member_id,
            "lines": [
                {
                    "sku": f"SKU-{category}",
                    "name": category,
                    "category": category,
                    "quantity": 1,
                    "unit_price_minor": price,
                }
            ],
        },
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text


def preview(client: TestClient, tenant: Tenant, rules: dict[str, Any]) -> tuple[int, list[int]]:
    r = client.post("/api/v1/segments/preview", json={"rules": rules}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    return r.json()["count"], [m["id"] for m in r.json()["sample"]]


def people(client: TestClient, tenant: Tenant) -> dict[str, int]:
    ann = member(
        client,
        tenant,
        first_name="Ann",
        phone="13800000001",
        tags=["vip"],
        birthday="1990-03-12",
        preferences={"categories": ["tea", "gift"]},
        consents=[{"channel": "email", "granted": True}],
    )
    bo = member(
        client,
        tenant,
        first_name="Bo",
        phone="13800000002",
        registered=False,
        birthday="1985-12-30",
    )
    cy = member(
        client,
        tenant,
        first_name="Cy",
        email="cy@example.com",
        tags=["staff"],
        address={"city": "Hangzhou"},
    )
    order(client, tenant, ann, "O-1", "tea", 12000)
    order(client, tenant, ann, "O-2", "teaware", 3000)
    order(client, tenant, bo, "O-3", "gift", 8000)
    return {"ann": ann, "bo": bo, "cy": cy}


def test_rules_compile_to_exact_sets(client: TestClient, tenant: Tenant) -> None:
    p = people(client, tenant)
    line = {"sku": "SKU-tea", "name": "tea", "category": "tea", "quantity": 1}
    anonymous = {"external_id": "O-anon", "lines": [{**line, "unit_price_minor": 900}]}
    r = client.post("/api/v1/orders", json=anonymous, headers=tenant.headers)
    assert r.status_code == 201, r.text  # no member: NOT IN must not be poisoned by its NULL
    cases: list[tuple[dict[str, Any], set[int]]] = [
        (
            {"not": {"field": "bought_category", "op": "ever", "value": {"category": "tea"}}},
            {p["bo"], p["cy"]},
        ),
        ({"field": "bought_sku", "op": "ever", "value": {"sku": "SKU-tea"}}, {p["ann"]}),
        (
            {"field": "consent", "op": "not_granted", "value": {"channel": "email"}},
            {p["bo"], p["cy"]},
        ),
        ({"field": "tag", "op": "has", "value": "vip"}, {p["ann"]}),
        ({"field": "tag", "op": "has_not", "value": "vip"}, {p["bo"], p["cy"]}),
        ({"field": "orders_count", "op": "gte", "value": 2}, {p["ann"]}),
        ({"field": "total_spent_minor", "op": "between", "value": [5000, 9000]}, {p["bo"]}),
        ({"field": "funnel_stage", "op": "in", "value": ["customer"]}, {p["bo"]}),
        ({"field": "registered", "op": "eq", "value": False}, {p["bo"]}),
        ({"field": "city", "op": "eq", "value": "Hangzhou"}, {p["cy"]}),
        ({"field": "city", "op": "eq", "value": None}, {p["ann"], p["bo"]}),  # no city
        ({"field": "city", "op": "ne", "value": None}, {p["cy"]}),
        (
            {"field": "preference", "op": "has", "value": {"kind": "categories", "value": "gift"}},
            {p["ann"]},
        ),
        ({"field": "consent", "op": "granted", "value": {"channel": "email"}}, {p["ann"]}),
        (
            {
                "field": "bought_category",
                "op": "within_days",
                "value": {"category": "gift", "days": 30},
            },
            {p["bo"]},
        ),
        (
            {"field": "orders_within_days", "op": "gte", "value": {"days": 7, "count": 1}},
            {p["ann"], p["bo"]},
        ),
        (
            {"field": "spend_within_days", "op": "gt", "value": {"days": 7, "amount": 10000}},
            {p["ann"]},
        ),
        ({"field": "no_order_for_days", "op": "gte", "value": 30}, {p["cy"]}),
        ({"field": "has_contact", "op": "eq", "value": "email"}, {p["cy"]}),
        (
            {
                "any": [
                    {"field": "tag", "op": "has", "value": "staff"},
                    {"field": "orders_count", "op": "eq", "value": 1},
                ]
            },
            {p["bo"], p["cy"]},
        ),
        (
            {
                "all": [
                    {"field": "registered", "op": "eq", "value": True},
                    {"not": {"field": "tag", "op": "has", "value": "vip"}},
                ]
            },
            {p["cy"]},
        ),
    ]
    for rules, expected in cases:
        count, sample = preview(client, tenant, rules)
        assert (count, set(sample)) == (len(expected), expected), rules


def test_birthday_within_days_uses_the_merchant_calendar_across_new_year(
    client: TestClient, tenant: Tenant, clock: FrozenClock
) -> None:
    p = people(client, tenant)
    rules = {"field": "birthday_within_days", "op": "lte", "value": 1}
    clock.set(datetime(2026, 12, 28, 15, 0, tzinfo=UTC))  # Dec 28 23:00 in Shanghai: Dec 28-29
    assert preview(client, tenant, rules) == (0, [])
    # 17:00 UTC on Dec 28 is already Dec 29 in Shanghai (the merchant's zone): Dec 29-30.
    clock.set(datetime(2026, 12, 28, 17, 0, tzinfo=UTC))
    assert preview(client, tenant, rules) == (1, [p["bo"]])
    clock.set(datetime(2026, 12, 31, 17, 0, tzinfo=UTC))  # Jan 1 local: over the year end
    assert preview(
        client, tenant, {"field": "birthday_within_days", "op": "lte", "value": 364}
    ) == (2, [p["bo"], p["ann"]])
    clock.set(datetime(2027, 3, 9, 17, 0, tzinfo=UTC))  # Mar 10 local; Ann's is Mar 12
    assert preview(client, tenant, {"field": "birthday_within_days", "op": "lte", "value": 2}) == (
        1,
        [p["ann"]],
    )
    assert preview(client, tenant, {"field": "birthday_within_days", "op": "lte", "value": 1}) == (
        0,
        [],
    )


def test_materialised_segment_follows_events_and_announces_changes(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    db: Session,
) -> None:
    p = people(client, tenant)
    r = client.post(
        "/api/v1/segments",
        json={"name": "Regulars", "rules": {"field": "orders_count", "op": "gte", "value": 2}},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    seg = r.json()
    assert (seg["member_count"], seg["time_relative"]) == (1, False)
    drain(sessions, settings)  # the worker catches up with past events: nothing changes
    order(client, tenant, p["bo"], "O-4")
    drain(sessions, settings)
    members = client.get(f"/api/v1/segments/{seg['id']}/members", headers=tenant.headers).json()[
        "items"
    ]
    assert sorted(m["id"] for m in members) == sorted([p["ann"], p["bo"]])
    o4 = client.get("/api/v1/orders", params={"external_id": "O-4"}, headers=tenant.headers).json()
    r = client.post(
        f"/api/v1/orders/{o4['items'][0]['id']}/refunds",
        json={"external_id": "R-4"},
        headers=tenant.headers,
    )
    assert r.status_code == 201
    drain(sessions, settings)
    assert (
        client.get(f"/api/v1/segments/{seg['id']}", headers=tenant.headers).json()["member_count"]
        == 1
    )
    db.rollback()
    moves = [
        (e.type, e.subject_id)
        for e in db.scalars(
            select(OutboxEvent).where(OutboxEvent.type.like("segment.%")).order_by(OutboxEvent.id)
        )
    ]
    assert moves == [("segment.entered", p["bo"]), ("segment.left", p["bo"])]


def test_time_relative_segment_is_refreshed_on_schedule(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    p = people(client, tenant)
    r = client.post(
        "/api/v1/segments",
        json={
            "name": "Sleeping",
            "rules": {
                "all": [
                    {"field": "orders_count", "op": "gte", "value": 1},
                    {"field": "no_order_for_days", "op": "gte", "value": 90},
                ]
            },
        },
        headers=tenant.headers,
    )
    seg = r.json()
    assert (seg["member_count"], seg["time_relative"]) == (0, True)
    clock.advance(timedelta(days=91))
    drain(sessions, settings)
    members = client.get(f"/api/v1/segments/{seg['id']}/members", headers=tenant.headers).json()[
        "items"
    ]
    assert sorted(m["id"] for m in members) == sorted([p["ann"], p["bo"]])


def test_nested_segments_and_cycles(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    p = people(client, tenant)
    vip = client.post(
        "/api/v1/segments",
        json={"name": "VIP", "rules": {"field": "tag", "op": "has", "value": "vip"}},
        headers=tenant.headers,
    ).json()
    both = client.post(
        "/api/v1/segments",
        json={
            "name": "VIP buyers",
            "rules": {
                "all": [{"segment": vip["id"]}, {"field": "orders_count", "op": "gte", "value": 1}]
            },
        },
        headers=tenant.headers,
    ).json()
    assert both["member_count"] == 1
    r = client.patch(
        f"/api/v1/segments/{vip['id']}",
        json={"rules": {"segment": both["id"]}},
        headers=tenant.headers,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (422, "segment_cycle")
    assert client.get(f"/api/v1/segments/{vip['id']}", headers=tenant.headers).json()["rules"] == {
        "field": "tag",
        "op": "has",
        "value": "vip",
    }
    r = client.post(
        "/api/v1/segments/preview",
        json={"rules": {"segment": vip["id"]}},
        headers=other_tenant.headers,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (404, "segment_not_found")
    assert (
        client.get(f"/api/v1/segments/{vip['id']}", headers=other_tenant.headers).status_code == 404
    )
    assert p["ann"] in [
        m["id"]
        for m in client.get(
            f"/api/v1/segments/{both['id']}/members", headers=tenant.headers
        ).json()["items"]
    ]


def test_bad_rules_are_422_and_store_nothing(client: TestClient, tenant: Tenant) -> None:
    bad = [
        ({"field": "shoe_size", "op": "eq", "value": 42}, "unknown_segment_field"),
        ({"field": "orders_count", "op": "has", "value": 1}, "invalid_segment_rule"),
        ({"all": []}, "invalid_segment_rule"),
        (
            {"field": "preference", "op": "has", "value": {"kind": "shoes", "value": "x"}},
            "invalid_segment_rule",
        ),
        ({"field": "birthday_within_days", "op": "lte", "value": "soon"}, "invalid_segment_rule"),
        # values of the wrong type: not a database error, not a rule that silently matches nobody
        ({"field": "orders_count", "op": "gt", "value": "three"}, "invalid_segment_rule"),
        ({"field": "orders_count", "op": "eq", "value": True}, "invalid_segment_rule"),
        ({"field": "first_name", "op": "eq", "value": 5}, "invalid_segment_rule"),
        ({"field": "total_spent_minor", "op": "between", "value": [1]}, "invalid_segment_rule"),
        (
            {"field": "total_spent_minor", "op": "between", "value": [1, "x"]},
            "invalid_segment_rule",
        ),
        ({"field": "funnel_stage", "op": "in", "value": "customer"}, "invalid_segment_rule"),
        ({"field": "city", "op": "in", "value": ["Hangzhou", 7]}, "invalid_segment_rule"),
    ]
    for rules, code in bad:
        r = client.post(
            "/api/v1/segments", json={"name": "x", "rules": rules}, headers=tenant.headers
        )
        assert (r.status_code, r.json()["error"]["code"]) == (422, code), rules
    assert client.get("/api/v1/segments", headers=tenant.headers).json()["items"] == []
    fields = {
        f["name"] for f in client.get("/api/v1/segments/fields", headers=tenant.headers).json()
    }
    assert {"tag", "orders_count", "birthday_within_days", "bought_category", "consent"} <= fields


def test_an_import_brings_its_members_into_the_segments(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    """A bulk import names no member in an event; once it completes, the merchant's segments
    are refreshed in full (before: an imported customer was in no segment until they did
    something)."""
    with transaction(sessions) as s:
        everyone = create_segment(
            s, tenant.merchant_id, "Everyone", {"field": "orders_count", "op": "gte", "value": 0}
        ).id
        vip = create_segment(
            s, tenant.merchant_id, "VIP", {"field": "tag", "op": "has", "value": "vip"}
        ).id
        follow_events(s)
    with transaction(sessions) as s:
        assert member_ids_in(s, everyone) == [] and member_ids_in(s, vip) == []
        run_import(
            s,
            tenant.merchant_id,
            "customers",
            io.BytesIO(SHOPIFY_CUSTOMERS.encode()),
            fmt="shopify",
        )
    with transaction(sessions) as s:
        follow_events(s)
    with sessions() as s:
        ids = sorted(s.scalars(select(Member.id).where(Member.merchant_id == tenant.merchant_id)))
        mei = s.scalars(select(Member.id).where(Member.email == "mei.chen@example.com")).one()
        assert len(ids) == 3
        assert member_ids_in(s, everyone) == ids
        assert member_ids_in(s, vip) == [mei]
