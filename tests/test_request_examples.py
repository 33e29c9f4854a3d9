"""Request bodies as the document shows them (ADR 0034): every operation that takes a JSON
body has an example that fits its schema, and the server accepts those that need nothing made
before them; on PATCH bodies the document says ``null`` exactly where the server takes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient

from patron.api_examples import REQUEST_EXAMPLES
from tests.conftest import Tenant

WRITES = ("post", "put", "patch")
Operation = tuple[str, str, dict[str, Any]]


def _operations(spec: dict[str, Any]) -> list[Operation]:
    """(method, path, operation) of every API operation with a JSON body, in document order."""
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in WRITES and "application/json" in op.get("requestBody", {}).get(
                "content", {}
            ):
                found.append((method, path, op))
    return found


def _body_schema(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    text = json.dumps({**schema, "$defs": spec["components"]["schemas"]})
    loaded: dict[str, Any] = json.loads(text.replace("#/components/schemas/", "#/$defs/"))
    return loaded


def _needs_prior_state(path: str, example: Any) -> bool:
    """An id in the path or in the body names something an earlier call made."""
    text = json.dumps(example)
    return "{" in path or "_id" in text


def test_every_body_has_an_example_that_fits_its_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = _operations(spec)
    assert len(operations) >= 50
    missing, unfit = [], []
    for _method, _path, op in operations:
        example = op["requestBody"]["content"]["application/json"].get("example")
        if example is None:
            missing.append(op["operationId"])
            continue
        errors = [
            e.message
            for e in jsonschema_rs.validator_for(_body_schema(spec, op)).iter_errors(example)
        ]
        if errors:
            unfit.append(f"{op['operationId']}: {errors}")
    assert missing == []
    assert unfit == []
    # No example for an operation that does not exist (a renamed operation id).
    assert set(REQUEST_EXAMPLES) == {op["operationId"] for _m, _p, op in operations}


def test_examples_that_need_nothing_before_them_are_accepted(
    client: TestClient, tenant: Tenant
) -> None:
    spec = client.get("/openapi.json").json()
    answers = {}
    for method, path, op in _operations(spec):
        example = op["requestBody"]["content"]["application/json"]["example"]
        if _needs_prior_state(path, example):
            continue
        headers = {**tenant.headers, "Idempotency-Key": f"example-{op['operationId']}"}
        r = client.request(method.upper(), path, json=example, headers=headers)
        answers[op["operationId"]] = r.status_code if r.status_code >= 300 else "ok"
        assert r.status_code < 300, (op["operationId"], r.text)
    assert len(answers) >= 15, answers


def _nullable(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(b.get("type") == "null" for b in prop.get("anyOf", []))


def _null_refused(r: Any, name: str) -> bool:
    """Refused as malformed, naming the field (a business rule refusing what ``null`` would
    leave, such as a campaign with no audience, is not a refusal of ``null`` itself)."""
    if r.status_code != 422 or r.json()["error"]["code"] != "invalid_request":
        return False
    return any(d["field"].endswith(f".{name}") for d in r.json()["error"]["details"])


def test_patch_bodies_say_null_exactly_where_it_is_taken(
    client: TestClient, tenant: Tenant
) -> None:
    """For every PATCH operation and every property: ``null`` is accepted if the document
    says the property is nullable, and refused (422) if it does not."""
    spec = client.get("/openapi.json").json()
    made = _make_one_of_each(client, tenant)
    wrong, tried = [], 0
    for method, path, op in _operations(spec):
        if method != "patch":
            continue
        url = path.replace(path[path.index("{") : path.index("}") + 1], str(made[path]))
        schema = spec["components"]["schemas"][
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        ]
        example = op["requestBody"]["content"]["application/json"]["example"]
        required = {name: example[name] for name in schema.get("required", [])}
        for name, prop in schema["properties"].items():
            tried += 1
            r = client.patch(url, json={**required, name: None}, headers=tenant.headers)
            assert r.status_code < 500, (op["operationId"], name, r.text)
            if _nullable(prop) == _null_refused(r, name):
                wrong.append(f"{op['operationId']}.{name}: {_nullable(prop)=} {r.text}")
    assert wrong == [], "\n".join(wrong)
    assert tried >= 60


def _make_one_of_each(client: TestClient, t: Tenant) -> dict[str, int]:
    """One object behind every PATCH path, made from the examples; path → its id."""

    def make(operation: str, path: str, **changes: Any) -> int:
        body = {**REQUEST_EXAMPLES[operation], **changes}
        headers = {**t.headers, "Idempotency-Key": f"make-{operation}"}
        r = client.post(path, json=body, headers=headers)
        assert r.status_code < 300, (operation, r.text)
        made: int = r.json()["id"]
        return made

    member = make("create_member", "/api/v1/members")
    other = make("create_member", "/api/v1/members", phone=None, email=None)
    template = make("create_template", "/api/v1/templates")
    item = make("create_mall_item", "/api/v1/mall/items")
    points = REQUEST_EXAMPLES["adjust_member_balance"] | {"amount": 5000}
    answer = client.post(
        f"/api/v1/members/{member}/adjustments",
        json=points,
        headers={**t.headers, "Idempotency-Key": "make-points"},
    )
    assert answer.status_code == 201, answer.text
    each: dict[str, Callable[[], int]] = {
        "/api/v1/members/{member_id}": lambda: member,
        "/api/v1/consent-topics/{topic_id}": lambda: make(
            "create_consent_topic", "/api/v1/consent-topics"
        ),
        "/api/v1/products/{product_id}": lambda: make("create_product", "/api/v1/products"),
        "/api/v1/segments/{segment_id}": lambda: make("create_segment", "/api/v1/segments"),
        "/api/v1/webhook-endpoints/{endpoint_id}": lambda: make(
            "create_webhook_endpoint", "/api/v1/webhook-endpoints"
        ),
        "/api/v1/templates/{template_id}": lambda: template,
        "/api/v1/coupon-templates/{template_id}": lambda: make(
            "create_coupon_template", "/api/v1/coupon-templates"
        ),
        "/api/v1/mall/items/{item_id}": lambda: item,
        "/api/v1/mall/orders/{mall_order_id}": lambda: make(
            "redeem_mall_item", "/api/v1/mall/redeem", member_id=member, item_id=item
        ),
        "/api/v1/gift-rules/{gift_rule_id}": lambda: make("create_gift_rule", "/api/v1/gift-rules"),
        "/api/v1/campaigns/{campaign_id}": lambda: make(
            "create_campaign", "/api/v1/campaigns", member_ids=[member, other], template_id=template
        ),
        "/api/v1/journeys/{journey_id}": lambda: make("create_journey", "/api/v1/journeys"),
    }
    return {path: build() for path, build in each.items()}
