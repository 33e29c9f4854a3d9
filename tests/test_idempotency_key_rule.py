"""One Idempotency-Key rule everywhere (ADR 0034): 1 to 200 characters, documented alike on
every operation that takes it, required on every POST that moves a balance, optional elsewhere;
an over-long key is a 422 with nothing written, the longest allowed key works on both databases."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text

from patron.core.migrate import downgrade, upgrade
from tests.conftest import Tenant
from tests.test_replays import seed, without_replay_flag
from tests.test_tenancy_body_ids import row_counts

# The operations that move a balance and have no key of their own in the body (orders and
# refunds carry ``external_id``): each requires the header.
REQUIRED = {"checkout_commit", "top_up", "redeem_mall_item", "adjust_member_balance"}
# Repeating these is harmless by itself; the key, if sent, still replays.
OPTIONAL = {"erase_member"}
KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 200, "title": "Idempotency-Key"}


def test_every_operation_documents_the_key_alike(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    taken: dict[str, dict[str, Any]] = {}
    for item in spec["paths"].values():
        for op in item.values():
            for parameter in op.get("parameters", []):
                if parameter["name"].lower() == "idempotency-key":
                    taken[op["operationId"]] = parameter
    assert set(taken) == REQUIRED | OPTIONAL
    assert {name for name, p in taken.items() if p["required"]} == REQUIRED
    shapes = {repr({k: v for k, v in p.items() if k != "required"}) for p in taken.values()}
    assert len(shapes) == 1, shapes
    first = next(iter(taken.values()))
    assert first["in"] == "header" and first["schema"] == KEY_SCHEMA
    assert "200 characters" in first["description"]


def _writes(ids: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    m = ids["member_id"]
    return [
        ("/api/v1/checkout/commit", {"member_id": m, "lines": [{"sku": "TEA", "quantity": 1}]}),
        (f"/api/v1/members/{m}/top-ups", {"amount_minor": 1000}),
        ("/api/v1/mall/redeem", {"member_id": m, "item_id": ids["item_id"]}),
        (
            f"/api/v1/members/{m}/adjustments",
            {"asset": "points", "amount": 7, "reason_code": "goodwill", "description": "sorry"},
        ),
    ]


def test_an_over_long_or_missing_key_is_422_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    ids = seed(client, tenant)
    writes = [*_writes(ids), (f"/api/v1/members/{ids['member_id']}/erase", {"reason": "asked"})]
    before = row_counts(engine)
    answers = []
    for path, body in writes:
        long_key = {**tenant.headers, "Idempotency-Key": "k" * 201}
        answers.append(client.post(path, json=body, headers=long_key))
        if not path.endswith("/erase"):
            answers.append(client.post(path, json=body, headers=tenant.headers))
    assert [a.status_code for a in answers] == [422] * 9
    fields = [a.json()["error"]["details"][0]["field"] for a in answers]
    assert fields == ["header.Idempotency-Key"] * 9
    assert row_counts(engine) == before


def test_the_longest_key_is_kept_and_replays(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    """200 characters fit every column a key (or a name built from it) is stored in: the
    idempotency table behind its prefix, mall orders, a checkout's order id, a top-up's entry."""
    ids = seed(client, tenant)
    for n, (path, body) in enumerate(_writes(ids)):
        headers = {**tenant.headers, "Idempotency-Key": f"{n}" + "x" * 199}
        first = client.post(path, json=body, headers=headers)
        assert first.status_code == 201, (path, first.text)
        counts = row_counts(engine)
        again = client.post(path, json=body, headers=headers)
        assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
        assert without_replay_flag(again.json()) == without_replay_flag(first.json())
        assert row_counts(engine) == counts


def _column_lengths(engine: Engine) -> dict[str, int | None]:
    found = inspect(engine)
    return {
        f"{table}.{column}": next(
            getattr(c["type"], "length", None)
            for c in found.get_columns(table)
            if c["name"] == column
        )
        for table, column in WIDENED
    }


WIDENED = (
    ("idempotency_keys", "key"),
    ("mall_orders", "idempotency_key"),
    ("journal_entries", "object_id"),
)


def test_migration_widens_the_key_columns_with_data_in_place(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    """0019_idemkeys on a database that holds keys: they stay and still replay; then the
    longest key fits (PostgreSQL enforces the lengths; SQLite does not, and keeps its DDL)."""
    # The key is written through the app (at head: the app needs every later table), then the
    # schema goes back to before 0019 with the row in it, and up again.
    ids = seed(client, tenant)
    redeem = {"member_id": ids["member_id"], "item_id": ids["item_id"]}
    before_key = {**tenant.headers, "Idempotency-Key": "m" * 120}
    first = client.post("/api/v1/mall/redeem", json=redeem, headers=before_key)
    assert first.status_code == 201
    try:
        downgrade(engine, "0018_security")
        old = _column_lengths(engine)
    finally:
        upgrade(engine)
    if engine.dialect.name == "postgresql":
        assert old == {
            "idempotency_keys.key": 200,
            "mall_orders.idempotency_key": 120,
            "journal_entries.object_id": 120,
        }
        assert _column_lengths(engine) == {
            "idempotency_keys.key": 255,
            "mall_orders.idempotency_key": 200,
            "journal_entries.object_id": 200,
        }
    again = client.post("/api/v1/mall/redeem", json=redeem, headers=before_key)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    longest = {**tenant.headers, "Idempotency-Key": "n" * 200}
    second = client.post("/api/v1/mall/redeem", json=redeem, headers=longest)
    assert second.status_code == 201 and second.json()["id"] == first.json()["id"] + 1
    with engine.connect() as conn:
        keys = conn.execute(
            text("SELECT idempotency_key FROM mall_orders WHERE merchant_id = :m ORDER BY id"),
            {"m": tenant.merchant_id},
        ).scalars()
        assert list(keys) == ["m" * 120, "n" * 200]
