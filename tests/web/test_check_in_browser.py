"""The daily check-in in a real browser (SQLite and PostgreSQL), in English and Chinese: the
owner sets the rewards in the dashboard, then a member checks in on a phone-sized screen on
three days (the clock moved) and sees the streak and the points the database holds.

Screenshots go to the test's tmp dir (and to $PATRON_SCREENSHOTS when it is set)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.ledger import queries
from patron.portal import service as portal
from patron.programs import rules
from patron.programs.config import Kind
from patron.rewards.models import MemberCheckIn
from tests.conftest import Tenant
from tests.live import live_server
from tests.web.conftest import shot
from tests.web.helpers import seed_member

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
DAY = timedelta(days=1)
WORDS = {
    "en": {"title": "Daily check-in", "done": "Checked in today: %s points.", "saved": "Saved"},
    "zh": {"title": "每日签到", "done": "今日已签到：%s 积分。", "saved": "已保存"},
}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_owner_sets_rewards_and_a_member_checks_in_on_three_days(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    language: str,
) -> None:
    words = WORDS[language]
    accept = "zh-CN,zh;q=0.9" if language == "zh" else "en-GB,en;q=0.9"
    member_id = seed_member(
        sessions, tenant, order_ref=None, locale="zh_Hans" if language == "zh" else "en"
    )
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)

    def snap(page: object, name: str) -> None:
        page.screenshot(path=str(tmp_path / f"{name}-{language}.png"), full_page=True)  # type: ignore[attr-defined]
        shot(page, f"check-in-{name}-{language}")

    with live_server(app) as base:
        desk = browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": 1280, "height": 860}, extra_http_headers={"Accept-Language": accept}
        )
        page = desk.new_page()
        page.goto(f"{base}/login")
        page.fill("#email", tenant.owner_email)
        page.fill("#password", tenant.owner_password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")
        page.goto(f"{base}/programs/check_in")
        if language == "zh":
            with page.expect_navigation():
                page.click("form.lang button[value=zh_Hans]")
        assert words["title"] in page.inner_text("h1")
        page.fill("#f-daily_points", "5")
        page.fill("#f-streak_points", "5, 10")
        page.fill("#f-milestones-0-day", "3")
        page.fill("#f-milestones-0-points", "50")
        snap(page, "settings")
        with page.expect_navigation():
            page.click("form.program-form button[type=submit]")
        assert page.url == f"{base}/programs/check_in"
        desk.close()
        with sessions() as s:
            saved = rules.current_rule(s, tenant.merchant_id, Kind.CHECK_IN).config
        assert saved["streak_points"] == [5, 10]
        assert saved["milestones"] == [
            {"day": 3, "points": 50, "growth": 0, "coupon_template_id": None}
        ]

        with transaction(sessions) as s:
            link = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
        phone = browser.new_context(  # type: ignore[attr-defined]
            viewport=PHONE, extra_http_headers={"Accept-Language": accept}
        )
        page = phone.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + link.url.removeprefix(settings.base_url))
        with page.expect_navigation():
            page.click("form[action^='/portal/signin/'] button[type=submit]")
        assert page.url == f"{base}/portal"
        expected_points = {1: 5, 2: 10, 3: 60}
        for day in (1, 2, 3):
            if day > 1:
                clock.advance(DAY)
                page.goto(f"{base}/portal")
            card = page.locator("[data-testid=check-in]")
            assert words["title"] in card.inner_text()
            with page.expect_navigation():
                page.click("[data-testid=check-in-button]")
            streak = page.get_attribute("[data-testid=streak]", "data-streak")
            shown_points = page.inner_text("[data-testid=points]")
            done = page.inner_text("[data-testid=checked-in]")
            with sessions() as s:
                balance = queries.member_balances(s, tenant.merchant_id, member_id)
                rows = s.scalars(
                    select(MemberCheckIn.streak).where(MemberCheckIn.member_id == member_id)
                ).all()
            assert streak == str(day) == str(max(rows))
            assert (
                shown_points
                == str(balance.balances["points"])
                == str(sum(expected_points[d] for d in range(1, day + 1)))
            )
            assert done == words["done"] % expected_points[day]
            assert page.locator(".check-in-days li.done").count() == day
            # The strip fits the phone: no sideways scrolling.
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            snap(page, f"day{day}")
        assert errors == []
        phone.close()
