"""An owner answers an access request and erases the member, in a real browser (Debian's
Chromium through Playwright) against a real server: download the file, a wrong number refused,
the right one erases — checked against the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.members.models import Member
from patron.privacy.models import MemberErasure
from tests.conftest import Tenant
from tests.live import live_server
from tests.web.conftest import shot
from tests.web.helpers import seed_member

pytestmark = pytest.mark.browser


def test_owner_downloads_then_erases_a_member(
    browser: object,
    engine: object,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
) -> None:
    member_id = seed_member(sessions, tenant, first="Mei", last="Chen")
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)  # type: ignore[arg-type]
    with live_server(app) as base:
        page = browser.new_page(accept_downloads=True)  # type: ignore[attr-defined]
        page.goto(f"{base}/login")
        page.fill("#email", tenant.owner_email)
        page.fill("#password", tenant.owner_password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")
        page.goto(f"{base}/members/{member_id}")
        with page.expect_download() as got:
            page.click("#privacy a[download]")
        exported = json.loads(Path(got.value.path()).read_text(encoding="utf-8"))
        assert exported["member"]["first_name"] == "Mei"
        assert [o["external_id"] for o in exported["tables"]["orders"]] == ["A-1001"]

        page.click("#erase summary")
        page.fill("#erase-reason", "asked at the counter")
        page.fill("#erase-confirm", str(member_id + 1))
        with page.expect_navigation():
            page.click("#erase button[type=submit]")
        assert f"type the member number {member_id} to confirm" in page.inner_text("body")
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(MemberErasure)) == 0

        page.click("#erase summary")
        page.fill("#erase-reason", "asked at the counter")
        page.fill("#erase-confirm", str(member_id))
        with page.expect_navigation():
            page.click("#erase button[type=submit]")
        body = page.inner_text("body")
        assert "The member's personal data was erased." in body and "Mei" not in body
        shot(page, "member-erased")
    with sessions() as s:
        member = s.get(Member, member_id)
        assert member is not None and (member.first_name, member.email) == (None, None)
        assert s.scalars(select(MemberErasure.reason)).all() == ["asked at the counter"]
