"""The portal's check-in card and the profile's birthday (SQLite and PostgreSQL): check in on
three days with the clock moved, a second tap refused, the card in Chinese, and the actions
Patron records itself (birthday_given, profile_completed)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.ledger import queries
from patron.ledger.verify import verify
from patron.programs.config import Kind
from patron.programs.rules import put_rule
from patron.rewards.models import MemberAction, MemberCheckIn
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member
from tests.web.test_portal_loyalty import _portal

DAY = timedelta(days=1)
CHECK_IN = {"streak_points": [5, 10], "milestones": [{"day": 3, "points": 50}]}


def _setup(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    with transaction(sessions) as s:
        put_rule(s, tenant.merchant_id, Kind.CHECK_IN, CHECK_IN, "test")
        put_rule(
            s,
            tenant.merchant_id,
            Kind.ACTIONS,
            {
                "actions": [
                    {"name": "birthday_given", "label": "Told us your birthday", "points": 30},
                    {"name": "profile_completed", "label": "Completed profile", "points": 40},
                ]
            },
            "test",
        )


def _tap(client: TestClient) -> str:
    home = client.get("/portal")
    r = client.post("/portal/check-in", data={"csrf_token": csrf_of(home)})
    assert r.status_code == 200 and r.url.path == "/portal"
    return r.text


def _streak(page: str) -> int:
    found = re.search(r'data-streak="(\d+)"', page)
    assert found
    return int(found.group(1))


def test_check_in_on_three_days(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    _setup(sessions, tenant)
    member_id = seed_member(sessions, tenant, order_ref=None)
    _portal(client, sessions, tenant, member_id, settings)
    home = client.get("/portal")
    assert "Check in for 5 points" in home.text and _streak(home.text) == 0
    assert "Next reward on day 3 of a streak (3 to go):" in home.text
    page = _tap(client)
    assert "Checked in: day 1 in a row, 5 points." in page
    assert "Checked in today: 5 points." in page and _streak(page) == 1
    again = client.post("/portal/check-in", data={"csrf_token": csrf_of(client.get("/portal"))})
    assert "You have already checked in today. See you tomorrow!" in again.text
    assert again.status_code == 200
    clock.advance(DAY)
    assert _streak(_tap(client)) == 2
    clock.advance(DAY)
    page = _tap(client)
    assert "Checked in: day 3 in a row, 60 points." in page and _streak(page) == 3
    assert page.count('data-done="yes"') == 3
    with transaction(sessions) as s:
        assert queries.member_balances(s, tenant.merchant_id, member_id).balances["points"] == 75
        days = s.scalars(select(MemberCheckIn.streak).order_by(MemberCheckIn.local_day)).all()
        assert list(days) == [1, 2, 3]
        assert verify(s, tenant.merchant_id) == []
    assert 'data-testid="points">75<' in page
    statement = client.get("/portal/points").text
    assert "Daily check-in, day 3 in a row: milestone reached: 60 points earned" in statement
    # In Chinese.
    home = client.get("/portal")
    client.post("/portal/language", data={"locale": "zh_Hans", "csrf_token": csrf_of(home)})
    zh = client.get("/portal").text
    assert "每日签到" in zh and "今日已签到：60 积分。" in zh and "连续 3 天" in zh
    assert "每日签到，连续第 3 天：达成里程碑：获得 60 积分" in client.get("/portal/points").text


def test_the_portal_records_birthday_and_complete_profile(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    _setup(sessions, tenant)
    member_id = seed_member(sessions, tenant, order_ref=None)
    _portal(client, sessions, tenant, member_id, settings)
    profile = client.get("/portal/profile")
    assert 'data-testid="birthday-form"' in profile.text
    bad = client.post(
        "/portal/profile/birthday", data={"birthday": "2999-01-01", "csrf_token": csrf_of(profile)}
    )
    assert "Please give a real date of birth." in bad.text
    r = client.post(
        "/portal/profile/birthday", data={"birthday": "1990-04-18", "csrf_token": csrf_of(profile)}
    )
    assert "Your birthday is saved." in r.text and 'data-testid="birthday-form"' not in r.text
    twice = client.post(
        "/portal/profile/birthday", data={"birthday": "1991-04-18", "csrf_token": csrf_of(r)}
    )
    assert "Your birthday is already on record." in twice.text
    r = client.post(
        "/portal/profile/preferences", data={"styles": "minimal", "csrf_token": csrf_of(r)}
    )
    assert r.status_code == 200
    client.post("/portal/profile/preferences", data={"styles": "classic", "csrf_token": csrf_of(r)})
    with transaction(sessions) as s:
        done = s.execute(
            select(MemberAction.action, MemberAction.event_id, MemberAction.points).order_by(
                MemberAction.id
            )
        ).all()
        assert [tuple(d) for d in done] == [
            ("birthday_given", f"patron:birthday_given:{member_id}", 30),
            ("profile_completed", f"patron:profile_completed:{member_id}", 40),
        ]
        assert queries.member_balances(s, tenant.merchant_id, member_id).balances["points"] == 70
