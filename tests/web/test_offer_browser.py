"""A real browser (Debian's Chromium through Playwright) on the coupon pages, both databases:
create a coupon template with the form, issue it to a member, see the code in its list.

Set PATRON_SCREENSHOTS=<dir> to keep a screenshot of each page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.coupons.models import CouponCode, CouponTemplate
from tests.conftest import Tenant
from tests.live import live_server
from tests.web.conftest import shot
from tests.web.helpers import seed_member

pytestmark = pytest.mark.browser


def test_create_a_coupon_and_issue_it_in_a_real_browser(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
) -> None:
    member_id = seed_member(sessions, tenant)
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    with live_server(app) as base:
        page = browser.new_page(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/login")
        page.fill("#email", tenant.owner_email)
        page.fill("#password", tenant.owner_password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")

        page.click("nav.nav a[href='/coupons']")
        page.wait_for_url(f"{base}/coupons")
        page.click("a.btn[href='/coupons/new']")
        page.wait_for_url(f"{base}/coupons/new")
        page.fill("#f-name", "Welcome ¥30")
        page.select_option("#f-kind", "amount_off")
        page.fill("#f-amount_off_minor", "30")
        page.fill("#f-min_spend_minor", "199.00")
        page.fill("#f-valid_days", "30")
        page.fill("#f-per_member_limit", "1")
        shot(page, "coupon-form")
        with page.expect_navigation():
            page.click("form.program-form button[type=submit]")
        assert "Coupon saved." in page.inner_text(".flash")
        assert page.inner_text("h1").startswith("Welcome ¥30")

        page.fill("#issue-who", "+8613800138000")
        with page.expect_navigation():
            page.click("#issue form[action$='/issue'] button[type=submit]")
        assert "issued to Mei Chen." in page.inner_text(".flash")
        rows = page.locator("#codes table.data tbody tr")
        assert rows.count() == 1
        assert "Mei Chen" in rows.first.inner_text() and "Ready to use" in rows.first.inner_text()
        shot(page, "coupon-detail")
        with page.expect_navigation():
            page.click("form.lang button[value=zh_Hans]")
        assert "发放给一位会员" in page.inner_text("#issue")
        assert errors == []  # no CSP violation or script error

    with sessions() as s:
        template = s.scalars(select(CouponTemplate)).one()
        assert (template.amount_off_minor, template.min_spend_minor) == (3000, 19900)
        assert (template.valid_days, template.per_member_limit, template.issued_count) == (30, 1, 1)
        code = s.scalars(select(CouponCode)).one()
        assert (code.member_id, code.status, code.template_id) == (member_id, "issued", template.id)
        assert code.expires_at == clock.now() + timedelta(days=30)
