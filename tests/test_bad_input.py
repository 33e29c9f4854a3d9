"""Bad input never answers 500: it is a 422 in the error envelope and changes nothing.

Walks the OpenAPI document: every operation with an integer path parameter gets 2^63 there,
every list gets a cursor of 2^63; then the bodies the fuzzer found (amounts, quantity × price,
NUL characters, explicit nulls on fields that cannot be empty).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant
from tests.test_tenancy_body_ids import row_counts
from tests.test_tenancy_walk import seed_alpha

TOO_BIG = 2**63
TOO_SMALL = -(2**63) - 1


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1")
        for method, op in item.items()
    ]


def assert_invalid(r: Any, what: str) -> None:
    assert r.status_code == 422, f"{what}: {r.status_code} {r.text[:200]}"
    error = r.json()["error"]
    assert error["code"] == "invalid_request", f"{what}: {error}"
    assert error["message"], what


def test_integers_beyond_64_bits_in_paths_and_cursors_are_422(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    before = row_counts(engine)
    paths = lists = 0
    for method, template, op in operations(client):
        params = {p["name"]: p for p in op.get("parameters", [])}
        ints = [n for n, p in params.items() if p["in"] == "path" and is_int(p["schema"])]
        if ints:
            for value in (TOO_BIG, TOO_SMALL):
                names = {n: (value if n in ints else "x") for n in re.findall(r"{(\w+)}", template)}
                path = template.format(**names)
                r = client.request(method, path, headers=tenant.headers)
                assert_invalid(r, f"{method} {path}")
            paths += 1
        if method == "GET" and "cursor" in params and not ints:
            path = template.format(**dict.fromkeys(re.findall(r"{(\w+)}", template), "x"))
            r = client.get(path, params={"cursor": TOO_BIG}, headers=tenant.headers)
            assert_invalid(r, f"GET {path}?cursor=2^63")
            lists += 1
    assert paths >= 70 and lists >= 8, (paths, lists)
    assert row_counts(engine) == before


def is_int(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "integer" or any(
        s.get("type") == "integer" for s in schema.get("anyOf", [])
    )


def lenient(client: TestClient) -> TestClient:
    """The same app, answering 500 instead of raising, so a test can list every failure."""
    return TestClient(client.app, raise_server_exceptions=False)


def patch_operations(client: TestClient) -> list[tuple[str, str, list[str]]]:
    spec = client.get("/openapi.json").json()
    found = []
    for path, item in spec["paths"].items():
        op = item.get("patch")
        if op is None:
            continue
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        props = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"]
        found.append((path, op["operationId"], sorted(props)))
    return found


def test_patch_with_null_on_every_field_never_fails_the_server(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], engine: Engine
) -> None:
    """Null clears a field that may be empty (200) or is refused (422); nothing else."""
    ids = seed_alpha(client, tenant, sessions)
    ids["template_id"] = ids["template_id"]
    http = lenient(client)
    wrong: list[str] = []
    checked = 0
    for template, operation_id, fields in patch_operations(client):
        names = dict(ids)
        if "coupon-templates" in template:
            names["template_id"] = ids["coupon_template_id"]
        path = template.format(**names)
        for field in fields:
            before = http.get(path, headers=tenant.headers).text
            counts = row_counts(engine)
            r = http.patch(path, json={field: None}, headers=tenant.headers)
            checked += 1
            if r.status_code == 422:
                if not r.json()["error"]["code"]:
                    wrong.append(f"{operation_id} {field}=null: {r.text[:120]}")
                if http.get(path, headers=tenant.headers).text != before:
                    wrong.append(f"{operation_id} {field}=null: refused but changed")
                if row_counts(engine) != counts:
                    wrong.append(f"{operation_id} {field}=null: refused but wrote rows")
            elif r.status_code != 200:
                wrong.append(f"{operation_id} {field}=null: {r.status_code} {r.text[:120]}")
    assert checked >= 50
    assert not wrong, "\n".join(wrong)


def test_null_on_a_field_that_cannot_be_empty_is_422_naming_it(
    client: TestClient, tenant: Tenant
) -> None:
    member = client.post("/api/v1/members", json={"first_name": "Mei"}, headers=tenant.headers)
    path = f"/api/v1/members/{member.json()['id']}"
    r = client.patch(path, json={"preferences": None}, headers=tenant.headers)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "body.preferences"
    # A field that may be empty is still cleared by null.
    r = client.patch(path, json={"first_name": None}, headers=tenant.headers)
    assert (r.status_code, r.json()["first_name"]) == (200, None)


NUL = "Mei\x00Lin"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/members", {"first_name": NUL}),
        ("/api/v1/members", {"first_name": "Mei", "tags": [NUL]}),
        ("/api/v1/members", {"first_name": "Mei", "address": {"city": NUL}}),
        ("/api/v1/stores", {"code": "S\x009", "name": "Nul street"}),
        ("/api/v1/stores", {"code": "S9", "name": NUL}),
        ("/api/v1/api-keys", {"name": NUL, "role": "clerk"}),
        ("/api/v1/products", {"sku": "NUL-1", "name": NUL, "price_minor": 100}),
    ],
)
def test_nul_characters_in_bodies_are_422(
    client: TestClient, tenant: Tenant, engine: Engine, path: str, body: dict[str, Any]
) -> None:
    before = row_counts(engine)
    r = lenient(client).post(path, json=body, headers=tenant.headers)
    assert_invalid(r, f"POST {path} {body}")
    assert "NUL" in r.json()["error"]["message"]
    assert row_counts(engine) == before


def test_nul_characters_in_queries_and_paths_are_422(client: TestClient, tenant: Tenant) -> None:
    http = lenient(client)
    for url in ("/api/v1/members?q=a%00b", "/api/v1/products?category=%00", "/api/v1/members/x%00"):
        assert_invalid(http.get(url, headers=tenant.headers), url)
    r = http.delete("/api/v1/members/1/tags/v%00ip", headers=tenant.headers)
    assert_invalid(r, "DELETE tag with NUL")


def make_member(client: TestClient, t: Tenant) -> int:
    r = client.post("/api/v1/members", json={"first_name": "Mei"}, headers=t.headers)
    member_id: int = r.json()["id"]
    return member_id


def make_product(client: TestClient, t: Tenant, price: int = 10**12) -> None:
    client.post(
        "/api/v1/products",
        json={"sku": "GOLD", "name": "Gold bar", "price_minor": price},
        headers=t.headers,
    )


@pytest.mark.parametrize(
    ("what", "value"),
    [("beyond 64 bits", TOO_BIG), ("below 64 bits", TOO_SMALL), ("far beyond", 10**40)],
)
def test_integers_beyond_64_bits_in_bodies_are_422(
    client: TestClient, tenant: Tenant, engine: Engine, what: str, value: int
) -> None:
    member = make_member(client, tenant)
    make_product(client, tenant)
    before = row_counts(engine)
    http = lenient(client)
    h = {**tenant.headers, "Idempotency-Key": f"big-{what}-key-0001"}
    cases = [
        (f"/api/v1/members/{member}/top-ups", {"amount_minor": value}),
        (
            f"/api/v1/members/{member}/adjustments",
            {"asset": "points", "amount": value, "reason_code": "goodwill", "description": "x"},
        ),
        ("/api/v1/orders", {"external_id": "BIG", "lines": [{"sku": "GOLD", "quantity": value}]}),
        ("/api/v1/checkout/quote", {"lines": [{"sku": "GOLD", "quantity": value}]}),
        ("/api/v1/members", {"first_name": "Mei", "home_store_id": value}),
        (
            "/api/v1/campaigns",
            {"name": "c", "member_ids": [value], "channel": "in_app", "template_id": 1},
        ),
        (
            "/api/v1/segments",
            {"name": "s", "rules": {"field": "orders_count", "op": "gte", "value": value}},
        ),
    ]
    for path, body in cases:
        assert_invalid(http.post(path, json=body, headers=h), f"POST {path} {what}")
    assert row_counts(engine) == before


def test_quantity_times_price_beyond_64_bits_is_422(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    """Each number fits, their products and sums do not: refused, nothing written."""
    make_product(client, tenant, price=10**12)
    before = row_counts(engine)
    http = lenient(client)
    lines = [{"sku": "GOLD", "quantity": 1_000_000} for _ in range(10)]  # 10 x 10^18
    r = http.post(
        "/api/v1/orders", json={"external_id": "HUGE", "lines": lines}, headers=tenant.headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "amount_too_large"
    for path in ("/api/v1/checkout/quote", "/api/v1/checkout/commit"):
        body = {"lines": [{"sku": "GOLD", "quantity": 100_000} for _ in range(500)]}
        h = {**tenant.headers, "Idempotency-Key": "huge-cart-key-00001"}
        r = http.post(path, json=body, headers=h)
        assert r.status_code == 422, f"{path}: {r.status_code} {r.text[:200]}"
        assert r.json()["error"]["code"] == "amount_too_large"
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", True), ("quantity", "2"), ("quantity", 2.0), ("unit_price_minor", "100")],
)
def test_quantities_and_money_take_only_json_integers(
    client: TestClient, tenant: Tenant, engine: Engine, field: str, value: Any
) -> None:
    member = make_member(client, tenant)
    make_product(client, tenant, price=500)
    before = row_counts(engine)
    line = {"sku": "GOLD", "quantity": 1, field: value}
    for path in ("/api/v1/orders", "/api/v1/checkout/quote", "/api/v1/coupons/validate"):
        body: dict[str, Any] = {"external_id": "S-1", "lines": [line], "codes": ["X"]}
        if path != "/api/v1/orders":
            body.pop("external_id")
        if path != "/api/v1/coupons/validate":
            body.pop("codes")
        r = client.post(path, json=body, headers=tenant.headers)
        assert_invalid(r, f"{path} {field}={value!r}")
    for path, body in [
        (f"/api/v1/members/{member}/top-ups", {"amount_minor": value}),
        (
            f"/api/v1/members/{member}/adjustments",
            {"asset": "points", "amount": value, "reason_code": "goodwill", "description": "x"},
        ),
        ("/api/v1/products", {"sku": "P2", "name": "p", "price_minor": value}),
    ]:
        h = {**tenant.headers, "Idempotency-Key": f"strict-{field}-{value!r}"}
        assert_invalid(client.post(path, json=body, headers=h), f"{path} {value!r}")
    assert row_counts(engine) == before


def test_a_value_the_database_cannot_store_is_422_as_the_last_defence() -> None:
    """Behind the guard: should a number still overflow in the driver, the answer is 422."""
    from fastapi import FastAPI

    from patron.core.http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/overflow")
    def overflow() -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    r = TestClient(app, raise_server_exceptions=False).get("/overflow")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
