"""Tenancy inside request bodies: an id in a body is checked against the caller's merchant.

The walk is generic over the OpenAPI document: every operation whose request body has a field
named ``*_id`` or ``*_ids`` (external ids excepted: they are the merchant's own labels) must have
a valid body for merchant B below. Each such field in turn gets merchant A's real id; the answer
must be 404 or 422 and no table may change. Last, B's own valid body must succeed, which proves
that the foreign id, not something else in the body, was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

import patron.models
from tests.conftest import Tenant
from tests.test_tenancy_walk import seed_alpha

Ids = dict[str, Any]

# A valid body for merchant B by operation id, built from B's ids.
BODIES: dict[str, Callable[[Ids], dict[str, Any]]] = {
    "create_member": lambda b: {"first_name": "New", "home_store_id": b["store_id"]},
    "update_member": lambda b: {"home_store_id": b["store_id"]},
    "merge_members": lambda b: {"other_member_id": b["other_member_id"]},
    "create_order": lambda b: {
        "external_id": "B-ORDER-NEW",
        "member_id": b["member_id"],
        "store_id": b["store_id"],
        "lines": [{"sku": b["sku"], "quantity": 1}],
    },
    "preview_template": lambda b: {"member_id": b["member_id"]},
    "checkout_quote": lambda b: {
        "member_id": b["member_id"],
        "store_id": b["store_id"],
        "lines": [{"sku": b["sku"], "quantity": 1}],
    },
    "checkout_commit": lambda b: {
        "member_id": b["member_id"],
        "store_id": b["store_id"],
        "lines": [{"sku": b["sku"], "quantity": 1}],
    },
    "create_coupon_template": lambda b: {
        "name": "B 5 off",
        "kind": "amount_off",
        "amount_off_minor": 500,
        "store_ids": [b["store_id"]],
    },
    "issue_coupon": lambda b: {"member_id": b["member_id"]},
    "issue_coupons_bulk": lambda b: {"member_ids": [b["member_id"]]},
    "validate_coupons": lambda b: {
        "codes": ["NO-SUCH-CODE"],
        "member_id": b["member_id"],
        "store_id": b["store_id"],
        "lines": [{"sku": b["sku"], "quantity": 1}],
    },
    "create_mall_item": lambda b: {
        "kind": "voucher",
        "name": "B voucher",
        "points_price": 1,
        "template_id": b["coupon_template_id"],
    },
    "redeem_mall_item": lambda b: {"member_id": b["member_id"], "item_id": b["item_id"]},
    "create_campaign": lambda b: {
        "name": "B campaign",
        "member_ids": [b["member_id"]],
        "channel": "in_app",
        "template_id": b["template_id"],
        "coupon_template_id": b["coupon_template_id"],
    },
    "update_campaign": lambda b: {
        "member_ids": [b["member_id"]],
        "template_id": b["template_id"],
        "coupon_template_id": b["coupon_template_id"],
    },
    "promote_product": lambda b: {"product_id": b["product_id"]},
}

# Which object an id field names, where its name alone does not say (operation → field → kind).
FIELD_KINDS: dict[str, dict[str, str]] = {
    "create_mall_item": {"template_id": "coupon_template_id"},
}
# The campaign body can take a segment or members, not both: the segment is checked alone.
EXTRA_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "create_campaign": [{"member_ids": None, "segment_id": "segment_id"}],
    "update_campaign": [{"member_ids": None, "segment_id": "segment_id"}],
}
# Merging uses up B's second member: run its valid body last.
LAST = ("merge_members",)


# Body fields named like ids that are the client's own keys, not objects of a merchant.
CLIENT_KEYS = {"event_id": "an action event's own id, unique per merchant (ADR 1321)"}


def id_fields(spec: dict[str, Any], schema: dict[str, Any], seen: frozenset[str]) -> list[str]:
    """Dotted names of the id fields of a body schema (nested objects included)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return id_fields(spec, spec["components"]["schemas"][name], seen | {name})
    found: list[str] = []
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in schema.get(key, []):
            found += id_fields(spec, sub, seen)
    if "items" in schema:
        found += id_fields(spec, schema["items"], seen)
    for prop, sub in schema.get("properties", {}).items():
        if prop.endswith(("_id", "_ids")) and "external" not in prop and prop not in CLIENT_KEYS:
            found.append(prop)
        found += [f"{prop}.{inner}" for inner in id_fields(spec, sub, seen)]
    return found


def operations_with_body_ids(client: TestClient) -> list[tuple[str, str, str, list[str]]]:
    spec = client.get("/openapi.json").json()
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                continue
            fields = sorted(set(id_fields(spec, schema, frozenset())))
            if fields:
                found.append((method.upper(), path, op["operationId"], fields))
    return found


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in patron.models.Base.metadata.sorted_tables
        }


def seed_ids(client: TestClient, t: Tenant, sessions: sessionmaker[Session]) -> Ids:
    ids = seed_alpha(client, t, sessions)
    ids["other_member_id"] = client.get(
        "/api/v1/members", params={"q": "Other"}, headers=t.headers
    ).json()["items"][0]["id"]
    # A switched-on promotion journey, so that promoting a product reaches the product check.
    journey = client.post(
        "/api/v1/journeys/from-library", json={"key": "promotion"}, headers=t.headers
    ).json()
    client.post(f"/api/v1/journeys/{journey['id']}/switch", json={"on": True}, headers=t.headers)
    ids["journey_id"] = journey["id"]
    ids["sku"] = client.get(f"/api/v1/products/{ids['product_id']}", headers=t.headers).json()[
        "sku"
    ]
    return ids


def foreign(value: Any, kind: str, a: Ids) -> Any:
    return [a[kind]] if isinstance(value, list) else a[kind]


def kind_of(operation_id: str, field: str) -> str:
    name = field.rsplit(".", 1)[-1]
    name = FIELD_KINDS.get(operation_id, {}).get(name, name)
    if name.endswith("_ids"):
        name = name[:-1]
    return {"home_store_id": "store_id"}.get(name, name)


def test_every_body_id_is_checked_against_the_callers_merchant(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    engine: Engine,
) -> None:
    a = seed_ids(client, tenant, sessions)
    b = seed_ids(client, other_tenant, sessions)
    operations = operations_with_body_ids(client)
    missing = [op for _m, _p, op, _f in operations if op not in BODIES]
    assert not missing, f"add a valid body for B to BODIES: {missing}"

    def path_of(template: str) -> str:
        names = {**b, "template_id": b["template_id"]}
        if "coupon-templates" in template:
            names["template_id"] = b["coupon_template_id"]
        return template.format(**names)

    checked = 0
    refused_wrongly: list[str] = []
    for method, template, operation_id, fields in operations:
        path = path_of(template)
        variants: list[tuple[str, dict[str, Any]]] = []
        valid = BODIES[operation_id](b)
        for field in fields:
            top = field.split(".", 1)[0]
            if top not in valid:
                continue
            kind = kind_of(operation_id, field)
            variants.append((field, {**valid, top: foreign(valid[top], kind, a)}))
        for extra in EXTRA_VARIANTS.get(operation_id, []):
            body = {**valid, **{k: (a[v] if v else v) for k, v in extra.items()}}
            variants.append(("segment_id", {k: v for k, v in body.items() if v is not None}))
        assert variants, f"{operation_id}: its body sets none of {fields}"
        for field, body in variants:
            before = row_counts(engine)
            view_before = client.get(path, headers=other_tenant.headers).text
            headers = {**other_tenant.headers, "Idempotency-Key": f"foreign-{operation_id}-{field}"}
            r = client.request(method, path, json=body, headers=headers)
            checked += 1
            if r.status_code not in (404, 422) or "error" not in r.json():
                refused_wrongly.append(f"{method} {path} with A's {field}: {r.status_code}")
                continue
            if row_counts(engine) != before:
                refused_wrongly.append(f"{operation_id} with A's {field} wrote rows")
            if client.get(path, headers=other_tenant.headers).text != view_before:
                refused_wrongly.append(f"{operation_id} with A's {field} changed B's object")
    assert not refused_wrongly, "\n".join(refused_wrongly)
    assert checked >= 25
    # B's own ids pass: the foreign id alone was refused.
    ordered = sorted(operations, key=lambda o: o[2] in LAST)
    for method, template, operation_id, _fields in ordered:
        headers = {**other_tenant.headers, "Idempotency-Key": f"own-{operation_id}"}
        r = client.request(method, path_of(template), json=BODIES[operation_id](b), headers=headers)
        assert r.status_code in (200, 201), f"{operation_id} with B's ids: {r.text[:300]}"
