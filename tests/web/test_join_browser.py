"""Scan to join in a real browser on a phone-sized screen, in English and Chinese: open a
store's join link, sign up with consent, take the code from the SMTP server, sign in, see the
portal; then the store's "joined online" figure in the dashboard counts the new member.

Screenshots go to the test's tmp dir (and to $PATRON_SCREENSHOTS when it is set)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.members.models import ConsentChange, Member
from patron.portal.models import MemberJoin
from tests.conftest import Tenant
from tests.engagement.providers import SmtpSink
from tests.live import live_server
from tests.portal.helpers import CODE, join_path, use_email
from tests.web.conftest import shot

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
WORDS = {
    "en": {"title": "Become a member", "hello": "Hello, Lin", "joined": "Joined online"},
    "zh": {"title": "成为会员", "hello": "Lin，您好", "joined": "线上入会"},
}


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _code_from(smtp: SmtpSink) -> str:
    deadline = time.monotonic() + 10
    while not smtp.messages:
        assert time.monotonic() < deadline, "no code arrived"
        time.sleep(0.05)
    body = smtp.messages[-1].get_body(("plain",))
    assert body is not None
    found = CODE.search(body.get_content())
    assert found
    return found.group(1)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_scan_join_sign_in_and_be_counted(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    smtp: SmtpSink,
    tmp_path: Path,
    language: str,
) -> None:
    use_email(sessions, tenant, smtp)
    words = WORDS[language]
    path = join_path(sessions, settings, tenant, source="counter-poster")
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)

    def snap(page: object, name: str) -> None:
        page.screenshot(path=str(tmp_path / f"{name}-{language}.png"), full_page=True)  # type: ignore[attr-defined]
        shot(page, f"join-{name}-{language}")

    with live_server(app) as base:
        accept = "zh-CN,zh;q=0.9" if language == "zh" else "en-GB,en;q=0.9"
        phone = browser.new_context(  # type: ignore[attr-defined]
            viewport=PHONE, extra_http_headers={"Accept-Language": accept}
        )
        page = phone.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + path)
        assert page.inner_text("h1") == words["title"]
        page.fill("#contact", "lin.wu@example.com")
        page.fill("#first_name", "Lin")
        page.fill("#last_name", "Wu")
        page.fill("#birthday", "1990-05-17")
        page.locator("input[name=topic]").first.check()
        snap(page, "form")
        with page.expect_navigation():
            page.click("form button[type=submit].btn-block")
        assert page.url == f"{base}/portal/alpha/code"
        page.fill("#code", _code_from(smtp))
        snap(page, "code")
        with page.expect_navigation():
            page.click("form[action$='/code'] button[type=submit]")
        assert page.url == f"{base}/portal"
        assert words["hello"] in page.inner_text("h1")
        snap(page, "portal")
        assert errors == []
        phone.close()

        desk = browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
        page = desk.new_page()
        page.goto(f"{base}/login")
        page.fill("#email", tenant.owner_email)
        page.fill("#password", tenant.owner_password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")
        page.goto(f"{base}/stores")
        if language == "zh":
            with page.expect_navigation():
                page.click("form.lang button[value=zh_Hans]")
        assert words["joined"].upper() in page.inner_text("table[data-testid=stores] thead").upper()
        shown = page.inner_text(f"[data-testid=joined-{tenant.store_id}]")
        snap(page, "stores")
        desk.close()

    with sessions() as s:
        joined = s.scalar(
            select(func.count())
            .select_from(MemberJoin)
            .where(MemberJoin.store_id == tenant.store_id, MemberJoin.source == "counter-poster")
        )
        assert s.scalars(select(Member.email)).all() == ["lin.wu@example.com"]
        assert s.scalar(select(func.count()).select_from(ConsentChange)) == 1
    assert shown == str(joined) == "1"
