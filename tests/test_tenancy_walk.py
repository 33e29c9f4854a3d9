"""Tenancy: merchant B's key gets 404 for every one of merchant A's objects, on every route.

The walk is generic over the app's routes: a new route with a path parameter this test does not
know fails here until its parameter (and, for writes, a valid sample body) is added below.
List routes without parameters must not leak A's data to B.
"""

from __future__ import annotations

import io
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.engagement.messages import enqueue_message
from patron.imports import jobs as imports_jobs
from tests.conftest import Tenant

MARKERS = (
    "+8613812345678",
    "A-SECRET-ORDER",
    "alpha-only-sku",
    "hidden@alpha-shop.com",
    "alpha-hook",
    "Alpha segment",
)

# Valid request bodies by operation id, so that validation passes and the tenancy check decides.
SAMPLE_BODIES: dict[str, Any] = {
    "update_member": {"first_name": "Mallory"},
    "add_member_tags": {"tags": ["stolen"]},
    "add_member_note": {"body": "hello"},
    "set_member_consent": {"channel": "email", "granted": False},
    "merge_members": {"other_member_id": 0},
    "erase_member": {"reason": "member's request"},
    "update_product": {"name": "renamed"},
    "refund_order": {"external_id": "R-B"},
    "update_webhook_endpoint": {"description": "hijacked"},
    "update_segment": {"name": "hijacked"},
    "update_template": {"name": "hijacked"},
    "preview_template": {"member_id": 0},
    "update_coupon_template": {"name": "hijacked"},
    "issue_coupon": {"member_id": 1},
    "issue_coupons_bulk": {"member_ids": [1]},
    "void_coupon": {"reason": "hijacked"},
    "update_mall_item": {"name": "hijacked"},
    "update_mall_order": {"status": "ready"},
    "update_gift_rule": {"name": "hijacked"},
    "update_campaign": {"name": "hijacked"},
    "update_consent_topic": {"labels": {"en": "hijacked"}},
    "launch_campaign": {},
    "update_journey": {"name": "hijacked"},
    "switch_journey": {"on": True},
    "promote_product": {"product_id": 1},
    "top_up": {"amount_minor": 100},
    "record_member_action": {"action": "review_written", "event_id": "hijacked-1"},
    "adjust_member_balance": {
        "asset": "points",
        "amount": 5,
        "reason_code": "goodwill",
        "description": "stolen",
    },
}

# Operations whose path parameter is not an object id of the caller's merchant.
EXEMPT = {
    "put_channel": "the caller's own channel settings, addressed by channel name",
    "provider_callback": "no API key; the provider's signature is checked",
    "provider_callback_check": "no API key; the provider's signature is checked",
    "whatsapp_verify": "provider URL verification; verified by the merchant's verify token",
    "payment_notify": "no API key; the provider's signature is checked with the merchant's keys "
    "(another merchant's order is refused: tests/payments)",
    "get_program_rule": "the caller's own program settings, addressed by kind",
    "put_program_rule": "the caller's own program settings, addressed by kind",
    "program_versions": "the caller's own program settings, addressed by kind",
    "import_csv": "imports into the caller's own merchant; kind is customers or orders",
}

# Where two kinds of object share a parameter name, which of A's objects each operation gets.
ALIASES = {
    op: {"template_id": "coupon_template_id"}
    for op in (
        "get_coupon_template",
        "update_coupon_template",
        "issue_coupon",
        "issue_coupons_bulk",
    )
}


def seed_alpha(client: TestClient, a: Tenant, sessions: sessionmaker[Session]) -> dict[str, Any]:
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
    keys = client.get("/api/v1/api-keys", headers=a.headers).json()["items"]
    top_up = client.post(
        f"/api/v1/members/{member['id']}/top-ups",
        json={"amount_minor": 10000},
        headers={**a.headers, "Idempotency-Key": "alpha-topup-1"},
    ).json()
    entry = client.post(
        f"/api/v1/members/{member['id']}/adjustments",
        json={"asset": "points", "amount": 10, "reason_code": "welcome", "description": "Hi"},
        headers={**a.headers, "Idempotency-Key": "alpha-adjust-1"},
    ).json()
    endpoint = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/alpha-hook", "event_types": ["*"]},
        headers=a.headers,
    ).json()
    client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test", headers=a.headers)
    delivery = client.get("/api/v1/webhook-deliveries", headers=a.headers).json()["items"][0]
    template = client.post(
        "/api/v1/templates",
        json={
            "name": "Alpha hello",
            "channel": "in_app",
            "variants": {"en": {"title": "Hi", "body": "Hello"}},
        },
        headers=a.headers,
    ).json()
    with transaction(sessions) as s:
        message = enqueue_message(
            s,
            a.merchant_id,
            member["id"],
            "in_app",
            topic="marketing",
            kind="marketing",
            dedupe_key="walk-1",
            content={"en": {"title": "Hi", "body": "Hello"}},
        )
        message_id = message.id
    SAMPLE_BODIES["preview_template"] = {"member_id": member["id"]}
    segment = client.post(
        "/api/v1/segments",
        json={"name": MARKERS[5], "rules": {"field": "tag", "op": "has", "value": "vip"}},
        headers=a.headers,
    ).json()
    entry = client.post(
        f"/api/v1/members/{member['id']}/adjustments",
        json={"asset": "points", "amount": 10, "reason_code": "welcome", "description": "Hi"},
        headers={**a.headers, "Idempotency-Key": "alpha-adjust-1"},
    ).json()
    with transaction(sessions) as s:
        job = imports_jobs.create_job(
            s,
            a.merchant_id,
            kind="customers",
            fmt="generic",
            filename="alpha.csv",
            upload=io.BytesIO(b"external_id,email,phone\nA-1,hidden@alpha-shop.com,\n"),
            max_bytes=1 << 20,
        )
        job_id = job.id
    coupons = seed_alpha_coupons(client, a, member["id"])
    # A sale at the till (its receipt is addressed by the sale's key).
    sale = client.post(
        "/api/v1/checkout/commit",
        json={"member_id": member["id"], "lines": [{"sku": MARKERS[2], "quantity": 1}]},
        headers={**a.headers, "Idempotency-Key": "till-alpha-sale-key-0001"},
    )
    assert sale.status_code == 201, sale.text
    engagement = seed_alpha_engagement(client, a, segment["id"], template["id"])
    SAMPLE_BODIES["merge_members"] = {"other_member_id": other["id"]}
    voice = seed_alpha_voice(sessions, a, member["id"], sale.json()["order_id"])
    return {
        **coupons,
        **engagement,
        **voice,
        "member_id": member["id"],
        "product_id": product["id"],
        "order_id": order["id"],
        "store_id": a.store_id,
        "key_id": keys[0]["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery["id"],
        "segment_id": segment["id"],
        "template_id": template["id"],
        "message_id": message_id,
        "tag": "vip",
        "entry_id": entry["id"],
        "top_up_id": top_up["id"],
        "key": "alpha-sale-key-0001",
        "job_id": job_id,
    }


def seed_alpha_voice(
    sessions: sessionmaker[Session], a: Tenant, member_id: int, order_id: int
) -> dict[str, Any]:
    """A one-star review with a photo of the till sale's line, and the case it opens."""
    import tempfile
    from pathlib import Path

    from sqlalchemy import select

    from patron.orders.models import OrderLine
    from patron.voice import reviews
    from patron.voice.models import ReviewPhoto
    from patron.voice.storage import LocalStorage
    from tests.voice.helpers import image_bytes

    with transaction(sessions) as s:
        line = s.scalars(select(OrderLine).where(OrderLine.order_id == order_id)).first()
        assert line is not None
        done = reviews.write_review(
            s,
            a.merchant_id,
            member_id,
            line.id,
            1,
            "hidden",
            [image_bytes()],
            LocalStorage(Path(tempfile.mkdtemp(prefix="walk-media-"))),
        )
        photo = s.scalars(select(ReviewPhoto).where(ReviewPhoto.review_id == done.review.id)).one()
        assert done.case_id is not None
        return {"review_id": done.review.id, "photo_id": photo.id, "case_id": done.case_id}


def seed_alpha_engagement(
    client: TestClient, a: Tenant, segment_id: int, template_id: int
) -> dict[str, Any]:
    campaign = client.post(
        "/api/v1/campaigns",
        json={
            "name": "Alpha spring",
            "segment_id": segment_id,
            "channel": "in_app",
            "template_id": template_id,
        },
        headers=a.headers,
    ).json()
    journey = client.post(
        "/api/v1/journeys/from-library",
        json={"key": "after_sales", "name": "Alpha care"},
        headers=a.headers,
    ).json()
    topics = client.get("/api/v1/consent-topics", headers=a.headers).json()
    return {"campaign_id": campaign["id"], "journey_id": journey["id"], "topic_id": topics[0]["id"]}


def seed_alpha_coupons(client: TestClient, a: Tenant, member_id: int) -> dict[str, Any]:
    template = client.post(
        "/api/v1/coupon-templates",
        json={"name": "Alpha 10 off", "kind": "amount_off", "amount_off_minor": 1000},
        headers=a.headers,
    ).json()
    code = client.post(
        f"/api/v1/coupon-templates/{template['id']}/issue",
        json={"member_id": member_id},
        headers=a.headers,
    ).json()
    item = client.post(
        "/api/v1/mall/items",
        json={"kind": "gift", "name": "Alpha cup", "points_price": 5, "stock": 3},
        headers=a.headers,
    ).json()
    mall_order = client.post(
        "/api/v1/mall/redeem",
        json={"member_id": member_id, "item_id": item["id"]},
        headers={**a.headers, "Idempotency-Key": "alpha-mall-1"},
    ).json()
    rule = client.post(
        "/api/v1/gift-rules",
        json={"name": "Alpha gift", "buy_sku": "X", "gift_sku": "G", "gift_name": "Gift"},
        headers=a.headers,
    ).json()
    return {
        "coupon_template_id": template["id"],
        "coupon_id": code["id"],
        "item_id": item["id"],
        "mall_order_id": mall_order["id"],
        "gift_rule_id": rule["id"],
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
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = seed_alpha(client, tenant, sessions)
    checked = 0
    for method, template, operation_id in api_operations(client):
        params = re.findall(r"{(\w+)}", template)
        if not params:
            if method == "GET":
                r = client.get(template, headers=other_tenant.headers)
                leaked = [m for m in MARKERS if m in r.text]
                assert not leaked, f"{method} {template} shows A's data to B: {leaked}"
            continue
        if operation_id in EXEMPT:
            continue
        missing = [p for p in params if p not in ids]
        assert not missing, f"{template}: add an object of A for {missing} to seed_alpha"
        path = template.format(
            **{**ids, **{k: ids[v] for k, v in ALIASES.get(operation_id, {}).items()}}
        )
        body = SAMPLE_BODIES.get(operation_id)
        headers = {**other_tenant.headers, "Idempotency-Key": f"walk-{operation_id}"}
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == 404, f"{method} {path} with B's key: {r.status_code} {r.text[:200]}"
        checked += 1
    assert checked >= 15
    # and nothing of A's changed
    m = client.get(f"/api/v1/members/{ids['member_id']}", headers=tenant.headers).json()
    assert (m["first_name"], m["tags"], m["merged_into_id"]) == (None, ["vip"], None)
    order = client.get(f"/api/v1/orders/{ids['order_id']}", headers=tenant.headers).json()
    assert (order["status"], order["refunded_minor"]) == ("completed", 0)


# Dashboard pages: the same walk over every page route with a path parameter, signed in as
# merchant B's owner (with B's CSRF token), so a new page cannot forget the merchant check.
PAGE_EXEMPT = {
    "/analytics/{figure}.csv": "a chart of the caller's own merchant, addressed by name",
    "/message-settings/channels/{channel}": "the caller's own channel settings",
    "/payment-settings/{provider}": "the caller's own payment provider settings",
    "/programs/{kind}": "the caller's own program settings, addressed by kind",
    "/journeys/library/{key}": "switches on a ready-made journey for the caller's own merchant",
    "/password-reset/{token}": "signed-out page: the random token is the only key (ADR 0019)",
}
# Path parameters whose name means another object on some pages.
PAGE_ALIASES = {
    "/coupons/": {"template_id": "coupon_template_id", "code_id": "coupon_id"},
}
# A valid action for routes that take one, and form fields that must be present.
PAGE_ACTIONS = {"/campaigns/": "pause", "/mall/items/": "archive", "/gifts/": "deactivate"}
PAGE_FORMS: dict[str, dict[str, str]] = {
    "/members/{member_id}/notes": {"body": "hijacked", "channel": "in_store"},
    "/members/{member_id}/tags": {"tags": "hijacked"},
    "/members/{member_id}/tags/remove": {"tag": "vip"},
    "/members/{member_id}/consents": {"channel": "email", "granted": "false"},
    "/members/{member_id}/adjustments": {
        "asset": "points",
        "direction": "add",
        "amount": "5",
        "reason_code": "goodwill",
        "description": "stolen",
        "key": "walk-adjustment-key-1",
    },
    "/journeys/{journey_id}/switch": {"on": "true"},
    "/coupons/{template_id}/issue": {"who": "1"},
    "/coupons/{template_id}/codes/{code_id}/void": {"reason": "hijacked"},
    "/mall/orders/{mall_order_id}": {"status": "ready"},
    "/till/orders/{order_id}/refund/preview": {"qty-1": "1"},
    "/till/orders/{order_id}/refund": {
        "qty-1": "1",
        "key": "walk-refund-key-00001",
        "expected_cash": "0",
    },
    "/reviews/{review_id}/reply": {"body": "hijacked"},
    "/reviews/{review_id}/hide": {"reason": "hijacked"},
    "/cases/{case_id}/note": {"body": "hijacked"},
    "/cases/{case_id}/reply": {"body": "hijacked"},
    "/cases/{case_id}/update": {"status": "closed", "priority": "low"},
    "/cases/{case_id}/compensate": {
        "action": "points",
        "reason": "hijacked",
        "key": "walk-compensate-key-1",
        "amount": "5",
    },
    "/till/members/{member_id}/top-up": {
        "amount_minor": "100",
        "expected_bonus": "0",
        "key": "walk-top-up-key-00001",
    },
}


def dashboard_routes() -> list[tuple[str, str]]:
    from patron.web.registry import DASHBOARD

    return [
        (method, route.path)
        for module in DASHBOARD
        for route in module.router.routes
        if "{" in route.path
        for method in sorted(route.methods)
    ]


def test_every_page_hides_merchant_a_from_merchant_b(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    from tests.web.helpers import csrf_of, sign_in

    ids = seed_alpha(client, tenant, sessions)
    ids["step_id"] = "0"
    sign_in(client, other_tenant)
    token = csrf_of(client.get("/dashboard"))
    checked = 0
    for method, template in dashboard_routes():
        if template in PAGE_EXEMPT:
            continue
        names = dict(ids)
        for prefix, aliases in PAGE_ALIASES.items():
            if template.startswith(prefix):
                names |= {k: ids[v] for k, v in aliases.items()}
        action = next((a for p, a in PAGE_ACTIONS.items() if template.startswith(p)), None)
        if action is not None:
            names["action"] = action
        params = re.findall(r"{(\w+)}", template)
        missing = [p for p in params if p not in names]
        assert not missing, f"{template}: add an object of A for {missing} (or exempt the page)"
        path = template.format(**names)
        data = {**PAGE_FORMS.get(template, {}), "csrf_token": token}
        r = client.request(method, path, data=data if method == "POST" else None)
        assert r.status_code == 404, f"{method} {path} as B: {r.status_code} {r.text[:200]}"
        checked += 1
    assert checked >= 20
    # and nothing of A's changed
    code = client.get(f"/api/v1/coupons/{ids['coupon_id']}", headers=tenant.headers).json()
    assert code["status"] == "issued"
    order = client.get(f"/api/v1/mall/orders/{ids['mall_order_id']}", headers=tenant.headers)
    assert order.json()["status"] == "pending"
    rule = client.get(f"/api/v1/gift-rules/{ids['gift_rule_id']}", headers=tenant.headers).json()
    assert (rule["name"], rule["status"]) == ("Alpha gift", "active")
