"""Calendar-day segment fields (``registered_date`` …) on SQLite and PostgreSQL: days are the
merchant's (Asia/Shanghai, UTC+8), "before"/"after" exclude the day, "between" includes both."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from patron.core.clock import FrozenClock
from tests.conftest import Tenant

# Shanghai's 1 March 2026 runs from 28 Feb 16:00 UTC to 1 March 16:00 UTC.
JOINED = {
    "late_feb": datetime(2026, 2, 28, 15, 59, tzinfo=UTC),  # 28 Feb, 23:59 in Shanghai
    "first_minute": datetime(2026, 2, 28, 16, 0, tzinfo=UTC),  # 1 March, 00:00 in Shanghai
    "last_minute": datetime(2026, 3, 1, 15, 59, tzinfo=UTC),  # 1 March, 23:59
    "march_2": datetime(2026, 3, 1, 16, 0, tzinfo=UTC),  # 2 March, 00:00
}


def _members(client: TestClient, tenant: Tenant, clock: FrozenClock) -> dict[str, int]:
    made = {}
    for i, (name, at) in enumerate(JOINED.items()):
        clock.set(at)
        r = client.post(
            "/api/v1/members",
            json={"first_name": name, "phone": f"+861380000000{i}"},
            headers=tenant.headers,
        )
        assert r.status_code == 201, r.text
        made[name] = r.json()["id"]
    clock.set(datetime(2026, 4, 1, tzinfo=UTC))
    return made


def _count(client: TestClient, tenant: Tenant, op: str, value: Any) -> int:
    rules = {"all": [{"field": "registered_date", "op": op, "value": value}]}
    r = client.post("/api/v1/segments/preview", json={"rules": rules}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["time_relative"] is False
    return int(r.json()["count"])


def test_calendar_days_are_the_merchants(
    client: TestClient, tenant: Tenant, clock: FrozenClock
) -> None:
    _members(client, tenant, clock)
    assert _count(client, tenant, "on", "2026-03-01") == 2
    assert _count(client, tenant, "before", "2026-03-01") == 1
    assert _count(client, tenant, "after", "2026-03-01") == 1
    assert _count(client, tenant, "between", ["2026-02-28", "2026-03-01"]) == 3
    assert _count(client, tenant, "between", ["2026-03-02", "2026-03-31"]) == 1


def test_a_bad_date_is_a_clear_422(client: TestClient, tenant: Tenant) -> None:
    for op, value in (("on", "1 March"), ("before", 20260301), ("between", ["2026-03-01"])):
        rules = {"all": [{"field": "registered_date", "op": op, "value": value}]}
        r = client.post(
            "/api/v1/segments", json={"name": "x", "rules": rules}, headers=tenant.headers
        )
        assert r.status_code == 422, (op, value)
        assert r.json()["error"]["code"] == "invalid_segment_rule"
    assert client.get("/api/v1/segments", headers=tenant.headers).json()["items"] == []
