"""The daily check-in through the API: streaks with the clock moved, a gap resets, milestones
(points and a coupon), the merchant's day boundary, a second check-in refused, tenancy, roles,
the ledger clean (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.coupons.models import CouponCode
from patron.ledger.verify import verify
from patron.members.models import Member
from tests.conftest import Tenant
from tests.rewards.helpers import CHECK_IN, member, points, put

DAY = timedelta(days=1)


def _check_in(client: TestClient, tenant: Tenant, m: int, status: int = 201) -> dict:  # type: ignore[type-arg]
    r = client.post(f"/api/v1/members/{m}/check-ins", headers=tenant.clerk_headers)
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def test_streak_over_three_days_with_a_milestone(
    client: TestClient, tenant: Tenant, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    put(client, tenant, "check_in", CHECK_IN)
    m = member(client, tenant)
    first = _check_in(client, tenant, m)
    assert (first["local_day"], first["streak"], first["points"]) == ("2026-03-10", 1, 5)
    again = _check_in(client, tenant, m, 409)
    assert again["error"]["code"] == "already_checked_in"
    assert points(client, tenant, m) == 5  # the refused check-in granted nothing
    clock.advance(DAY)
    second = _check_in(client, tenant, m)
    assert (second["local_day"], second["streak"], second["points"]) == ("2026-03-11", 2, 10)
    clock.advance(DAY)
    third = _check_in(client, tenant, m)
    assert (third["streak"], third["points"]) == (3, 15 + 50)
    assert points(client, tenant, m) == 5 + 10 + 65
    state = client.get(f"/api/v1/members/{m}/check-in", headers=tenant.headers).json()
    assert state["checked_in_today"] is True and state["streak"] == 3
    assert state["today_points"] == 65 and state["next_milestone"] is None
    assert [d["checked_in"] for d in state["last_7_days"]] == [False] * 4 + [True] * 3
    assert state["last_7_days"][-1]["day"] == "2026-03-12"
    lines = client.get(f"/api/v1/members/{m}/statement", headers=tenant.headers).json()["items"]
    said = [line["description"] for line in lines]
    assert said[0] == "Daily check-in, day 3 in a row: milestone reached: 65 points earned"
    assert said[-1] == "Daily check-in, day 1 in a row: 5 points earned"
    history = client.get(f"/api/v1/members/{m}/check-ins?limit=2", headers=tenant.headers).json()
    assert [h["streak"] for h in history["items"]] == [3, 2]
    rest = client.get(
        f"/api/v1/members/{m}/check-ins?cursor={history['next_cursor']}", headers=tenant.headers
    ).json()
    assert ([h["streak"] for h in rest["items"]], rest["next_cursor"]) == ([1], None)
    with transaction(sessions) as s:
        assert verify(s, tenant.merchant_id) == []
        # Each check-in counts once as attention (1 point a day, ADR 1322).
        found = s.get(Member, m)
        assert found is not None and found.engagement_score == 3


def test_a_missed_day_resets_the_streak(
    client: TestClient, tenant: Tenant, clock: FrozenClock
) -> None:
    put(client, tenant, "check_in", {**CHECK_IN, "milestones": [{"day": 2, "points": 7}]})
    m = member(client, tenant)
    _check_in(client, tenant, m)
    clock.advance(DAY)
    assert _check_in(client, tenant, m)["streak"] == 2
    clock.advance(DAY)  # no check-in on the 12th: the streak is alive until the day ends
    state = client.get(f"/api/v1/members/{m}/check-in", headers=tenant.headers).json()
    assert (state["checked_in_today"], state["streak"], state["today_points"]) == (False, 2, 15)
    clock.advance(DAY)  # the 13th: broken
    state = client.get(f"/api/v1/members/{m}/check-in", headers=tenant.headers).json()
    assert (state["streak"], state["today_points"], state["days_to_next_milestone"]) == (0, 5, 2)
    assert state["next_milestone"] == {
        "day": 2,
        "points": 7,
        "growth": 0,
        "coupon_template_id": None,
    }
    again = _check_in(client, tenant, m)
    assert (again["streak"], again["points"]) == (1, 5)
    clock.advance(DAY)
    # A new streak reaches the milestone again.
    assert _check_in(client, tenant, m)["points"] == 10 + 7
    assert points(client, tenant, m) == 5 + 17 + 5 + 17


def test_the_day_ends_at_midnight_in_the_merchants_time_zone(
    client: TestClient, tenant: Tenant, clock: FrozenClock
) -> None:
    put(client, tenant, "check_in", {"daily_points": 3})
    m = member(client, tenant)
    clock.set(datetime(2026, 3, 10, 15, 59, tzinfo=UTC))  # 23:59 in Shanghai
    assert _check_in(client, tenant, m)["local_day"] == "2026-03-10"
    clock.advance(timedelta(minutes=2))  # 00:01 on the 11th in Shanghai, still the 10th in UTC
    nxt = _check_in(client, tenant, m)
    assert (nxt["local_day"], nxt["streak"], nxt["points"]) == ("2026-03-11", 2, 3)
    clock.advance(timedelta(hours=23, minutes=58))  # 23:59 on the 11th: the same day
    assert _check_in(client, tenant, m, 409)["error"]["details"] == {"local_day": "2026-03-11"}
    assert points(client, tenant, m) == 6


def test_a_milestone_coupon(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    clock: FrozenClock,
    sessions: sessionmaker[Session],
) -> None:
    template = client.post(
        "/api/v1/coupon-templates",
        headers=tenant.headers,
        json={"name": "Free pot of tea", "kind": "amount_off", "amount_off_minor": 3000},
    ).json()
    theirs = client.post(
        "/api/v1/coupon-templates",
        headers=other_tenant.headers,
        json={"name": "Theirs", "kind": "amount_off", "amount_off_minor": 100},
    ).json()
    refused = client.put(
        "/api/v1/programs/check_in",
        headers=tenant.headers,
        json={"config": {"milestones": [{"day": 2, "coupon_template_id": theirs["id"]}]}},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_program_config"
    put(
        client,
        tenant,
        "check_in",
        {"daily_points": 1, "milestones": [{"day": 2, "coupon_template_id": template["id"]}]},
    )
    m = member(client, tenant)
    assert _check_in(client, tenant, m)["coupon_code_ids"] == []
    clock.advance(DAY)
    second = _check_in(client, tenant, m)
    assert len(second["coupon_code_ids"]) == 1 and second["points"] == 1
    with transaction(sessions) as s:
        code = s.scalar(select(CouponCode).where(CouponCode.id == second["coupon_code_ids"][0]))
        assert code is not None
        assert (code.member_id, code.template_id, code.source, code.reason_key) == (
            m,
            template["id"],
            "check_in",
            "check_in:2026-03-11:2",
        )
    wallet = client.get(f"/api/v1/members/{m}/coupons", headers=tenant.headers).json()
    assert [c["template_id"] for c in wallet] == [template["id"]]


def test_no_check_in_setting_refuses(client: TestClient, tenant: Tenant) -> None:
    m = member(client, tenant)
    r = client.post(f"/api/v1/members/{m}/check-ins", headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "check_in_not_offered"
    state = client.get(f"/api/v1/members/{m}/check-in", headers=tenant.headers).json()
    assert (state["offered"], state["streak"]) == (False, 0)
    put(client, tenant, "check_in", {"enabled": False, "daily_points": 5})
    r = client.post(f"/api/v1/members/{m}/check-ins", headers=tenant.headers)
    assert r.json()["error"]["code"] == "check_in_not_offered"
    assert points(client, tenant, m) == 0


def test_tenancy_and_roles(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    put(client, tenant, "check_in", CHECK_IN)
    put(client, other_tenant, "check_in", CHECK_IN)
    mine = member(client, tenant)
    routes = [
        ("post", f"/api/v1/members/{mine}/check-ins"),
        ("get", f"/api/v1/members/{mine}/check-in"),
        ("get", f"/api/v1/members/{mine}/check-ins"),
    ]
    for method, path in routes:
        r = client.request(method, path, headers=other_tenant.headers)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "member_not_found"
        assert client.request(method, path).status_code == 401
        bad = client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
    for method, path in routes:  # a clerk (the till) may check a member in and read
        r = client.request(method, path, headers=tenant.clerk_headers)
        assert r.status_code in (200, 201), (path, r.text)
    # A manager sets the rewards; a clerk may not.
    r = client.put(
        "/api/v1/programs/check_in", headers=tenant.clerk_headers, json={"config": CHECK_IN}
    )
    assert r.status_code == 403
    assert points(client, tenant, mine) == 5


def test_a_merge_moves_check_ins_and_actions(
    client: TestClient, tenant: Tenant, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    put(client, tenant, "check_in", CHECK_IN)
    put(
        client,
        tenant,
        "actions",
        {"actions": [{"name": "review_written", "label": "Review", "points": 2}]},
    )
    keep = member(client, tenant)
    gone = member(client, tenant, "+8613900000010")
    _check_in(client, tenant, gone)
    _check_in(client, tenant, keep)  # both on the 10th
    clock.advance(DAY)
    _check_in(client, tenant, gone)  # only the merged record on the 11th
    r = client.post(
        f"/api/v1/members/{gone}/actions",
        headers=tenant.headers,
        json={"action": "review_written", "event_id": "rv1"},
    )
    assert r.status_code == 201
    merged = client.post(
        f"/api/v1/members/{keep}/merge", headers=tenant.headers, json={"other_member_id": gone}
    )
    assert merged.status_code == 200, merged.text
    mine = client.get(f"/api/v1/members/{keep}/check-ins", headers=tenant.headers).json()
    assert [(c["local_day"], c["member_id"]) for c in mine["items"]] == [
        ("2026-03-11", keep),
        ("2026-03-10", keep),
    ]
    acts = client.get(f"/api/v1/members/{keep}/actions", headers=tenant.headers).json()
    assert [a["event_id"] for a in acts["items"]] == ["rv1"]
    # The streak goes on from the 11th, which came with the merged record.
    clock.advance(DAY)
    assert _check_in(client, tenant, keep)["streak"] == 3
    with transaction(sessions) as s:
        assert verify(s, tenant.merchant_id) == []
