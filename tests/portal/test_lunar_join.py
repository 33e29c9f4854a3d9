"""A lunar birthday given at sign-up and changed on the profile page, on SQLite and PostgreSQL
(ADR 1332)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.members.models import Member, MemberLunarBirthday
from tests.conftest import Tenant
from tests.engagement.providers import SmtpSink
from tests.portal.helpers import emailed_code, enter_code, join_path, post_form, use_email
from tests.web.helpers import csrf_of

SLUG = "alpha"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _lunar(sessions: sessionmaker[Session]) -> list[tuple[int, int, bool]]:
    with sessions() as s:
        rows = s.scalars(select(MemberLunarBirthday)).all()
        return [(r.lunar_month, r.lunar_day, r.leap_month) for r in rows]


def test_lunar_birthday_at_sign_up_and_on_the_profile(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp: SmtpSink,
) -> None:
    use_email(sessions, tenant, smtp)
    path = join_path(sessions, settings, tenant)
    page = client.get(path)
    assert 'name="lunar_month"' in page.text and "Month 8" in page.text
    half = post_form(
        client, path, {"contact": "lin@example.com", "first_name": "Lin", "lunar_month": "8"}
    )
    assert half.status_code == 422  # type: ignore[attr-defined]
    assert "Choose both the lunar month and the day" in half.text  # type: ignore[attr-defined]
    sent = post_form(
        client,
        path,
        {
            "contact": "lin@example.com",
            "first_name": "Lin",
            "birthday": "1990-10-04",
            "lunar_month": "8",
            "lunar_day": "15",
        },
    )
    assert sent.status_code == 303  # type: ignore[attr-defined]
    assert _lunar(sessions) == []  # nothing before the code comes back
    enter_code(client, SLUG, emailed_code(smtp))
    assert _lunar(sessions) == [(8, 15, False)]
    with sessions() as s:
        assert str(s.scalars(select(Member.birthday)).one()) == "1990-10-04"
    profile = client.get("/portal/profile")
    assert 'data-testid="lunar-birthday">Month 8, Day 15<' in profile.text
    r = client.post(
        "/portal/profile/lunar-birthday",
        data={
            "csrf_token": csrf_of(profile),
            "lunar_month": "6",
            "lunar_day": "10",
            "lunar_leap": "on",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _lunar(sessions) == [(6, 10, True)]
    bad = client.post(
        "/portal/profile/lunar-birthday",
        data={"csrf_token": csrf_of(profile), "lunar_month": "6", "lunar_day": "31"},
        follow_redirects=False,
    )
    assert bad.status_code == 303 and _lunar(sessions) == [(6, 10, True)]
    cleared = client.post(
        "/portal/profile/lunar-birthday",
        data={"csrf_token": csrf_of(profile), "lunar_month": "", "lunar_day": ""},
        follow_redirects=False,
    )
    assert cleared.status_code == 303 and _lunar(sessions) == []
