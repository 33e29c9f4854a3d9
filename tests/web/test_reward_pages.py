"""The check-in and actions settings pages and the member page panel (SQLite and PostgreSQL):
the owner sets rewards in plain words (points as numbers, a coupon from a list), mistakes come
back on the form, a clerk is refused, Chinese."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.coupons import service as coupons
from patron.coupons.schemas import TemplateIn
from patron.programs import rules
from patron.programs.config import Kind
from patron.rewards import actions, checkin
from tests.conftest import Tenant
from tests.web.helpers import add_staff, csrf_of, seed_member, sign_in, sign_in_as


def _coupon(sessions: sessionmaker[Session], tenant: Tenant, name: str) -> int:
    with transaction(sessions) as s:
        t = coupons.create_template(
            s,
            tenant.merchant_id,
            TemplateIn(name=name, kind="amount_off", amount_off_minor=1000),
        )
        return t.id


def _in_force(sessions: sessionmaker[Session], tenant: Tenant, kind: Kind) -> dict:  # type: ignore[type-arg]
    with sessions() as s:
        return dict(rules.current_rule(s, tenant.merchant_id, kind).config)


def test_the_owner_sets_check_in_rewards_with_a_coupon_from_the_list(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
) -> None:
    pot = _coupon(sessions, tenant, "Free pot of tea")
    theirs = _coupon(sessions, other_tenant, "Someone else's coupon")
    sign_in(client, tenant)
    page = client.get("/programs/check_in")
    assert page.status_code == 200
    assert "Points by day of the streak" in page.text and "Free pot of tea" in page.text
    assert "Someone else&#39;s coupon" not in page.text and "streak_points</" not in page.text
    form = {
        "csrf_token": csrf_of(page),
        "enabled": "on",
        "daily_points": "5",
        "streak_points": "5, 5, 10",
        "daily_growth": "0",
        "milestones-0-day": "7",
        "milestones-0-points": "50",
        "milestones-0-growth": "",
        "milestones-0-coupon_template_id": "",
        "milestones-1-day": "30",
        "milestones-1-points": "",
        "milestones-1-growth": "",
        "milestones-1-coupon_template_id": str(pot),
    }
    r = client.post("/programs/check_in", data=form)
    assert r.status_code == 200 and r.url.path == "/programs/check_in", r.text
    assert _in_force(sessions, tenant, Kind.CHECK_IN) == {
        "enabled": True,
        "daily_points": 5,
        "streak_points": [5, 5, 10],
        "daily_growth": 0,
        "milestones": [
            {"day": 7, "points": 50, "growth": 0, "coupon_template_id": None},
            {"day": 30, "points": 0, "growth": 0, "coupon_template_id": pot},
        ],
    }
    # Filled back from the version saved: the coupon chosen.
    again = client.get("/programs/check_in").text
    assert f'<option value="{pot}" selected>Free pot of tea</option>' in again
    assert 'value="5, 5, 10"' in again
    # Another merchant's coupon id, forged into the form: refused, nothing saved.
    bad = client.post(
        "/programs/check_in",
        data={**form, "csrf_token": csrf_of(r), "milestones-1-coupon_template_id": str(theirs)},
    )
    assert bad.status_code == 422 and "Not saved" in bad.text
    twice = client.post(
        "/programs/check_in",
        data={**form, "csrf_token": csrf_of(r), "milestones-1-day": "7"},
    )
    assert twice.status_code == 422 and "One milestone per day of the streak." in twice.text
    with sessions() as s:
        assert len(rules.versions(s, tenant.merchant_id, Kind.CHECK_IN)) == 1


def test_the_owner_names_actions_and_the_member_page_shows_them(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    sign_in(client, tenant)
    page = client.get("/programs/actions")
    form = {
        "csrf_token": csrf_of(page),
        "actions-0-label": "Wrote a review",
        "actions-0-name": "Review Written",
        "actions-0-points": "20",
        "actions-0-cap_per_day": "1",
    }
    bad = client.post("/programs/actions", data=form)
    assert bad.status_code == 422
    assert "Use small letters, digits and _, starting with a letter" in bad.text
    r = client.post("/programs/actions", data={**form, "actions-0-name": "review_written"})
    assert r.status_code == 200, r.text
    assert _in_force(sessions, tenant, Kind.ACTIONS) == {
        "actions": [
            {
                "name": "review_written",
                "label": "Wrote a review",
                "points": 20,
                "growth": 0,
                "cap_per_day": 1,
                "cap_per_week": None,
                "cap_per_month": None,
                "cap_ever": None,
            }
        ]
    }
    with transaction(sessions) as s:
        rules.put_rule(s, tenant.merchant_id, Kind.CHECK_IN, {"daily_points": 5}, "test")
    with transaction(sessions) as s:
        checkin.check_in(s, tenant.merchant_id, member_id)
        actions.record_action(s, tenant.merchant_id, member_id, "review_written", "r1")
        actions.record_action(s, tenant.merchant_id, member_id, "review_written", "r2")
    member_page = client.get(f"/members/{member_id}").text
    assert 'data-testid="member-rewards"' in member_page
    assert "1-day streak" in member_page and "Wrote a review" in member_page
    assert "No: the limit per day was reached" in member_page
    client.post("/language", data={"locale": "zh_Hans", "csrf_token": csrf_of(r)})
    zh = client.get(f"/members/{member_id}").text
    assert "签到与行为" in zh and "否：已达每天上限" in zh
    zh_form = client.get("/programs/actions").text
    assert "行为奖励" in zh_form and "每天次数" in zh_form


def test_a_clerk_cannot_open_the_reward_settings(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    for kind in ("check_in", "actions"):
        assert client.get(f"/programs/{kind}").status_code == 403
        r = client.post(f"/programs/{kind}", data={"daily_points": "5"})
        assert r.status_code in (403, 400)
    with sessions() as s:
        assert rules.versions(s, tenant.merchant_id, Kind.CHECK_IN) == []
