"""A real browser (Debian's Chromium through Playwright) against a live server, both databases:
sign in, search a member by phone, open their history, switch to Chinese, use the portal.

Set PATRON_SCREENSHOTS=<dir> to keep a screenshot of each main page."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics import page_cache
from patron.analytics.lifetime import clear_cache
from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.portal import service as portal
from tests.conftest import Tenant
from tests.live import live_server
from tests.web.analytics_data import seed_crowd
from tests.web.conftest import shot
from tests.web.helpers import seed_loyalty, seed_member

pytestmark = pytest.mark.browser


def test_dashboard_and_portal_in_a_real_browser(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
) -> None:
    member_id = seed_member(sessions, tenant, tags=["vip", "coats"])
    seed_member(
        sessions,
        tenant,
        first="Tom",
        last="Ng",
        phone="+8613900139000",
        email=None,
        order_ref="B-2001",
    )
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    with live_server(app) as base:
        page = browser.new_page(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
        page.goto(f"{base}/")
        assert page.url == f"{base}/login"
        shot(page, "login")
        page.fill("#email", tenant.owner_email)
        page.fill("#password", tenant.owner_password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")
        shot(page, "overview")

        page.fill("#global-q", "13800138000")
        page.press("#global-q", "Enter")
        page.wait_for_url("**/members?q=13800138000")
        rows = page.locator("table.data tbody tr")
        assert rows.count() == 1
        assert "Mei Chen" in rows.first.inner_text()
        shot(page, "members")

        rows.first.locator("a.who").click()
        page.wait_for_url(f"{base}/members/{member_id}")
        history = page.locator("#orders").inner_text()
        assert "A-1001" in history and "Wool coat" in history and "Silk scarf" in history
        page.fill("#note-body", "Asked for the navy coat in size M")
        with page.expect_navigation():
            page.click("#notes button[type=submit]")
        assert "Asked for the navy coat in size M" in page.locator("#notes").inner_text()
        shot(page, "member")

        with page.expect_navigation():
            page.click("form.lang button[value=zh_Hans]")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        assert "订单记录" in page.locator("#orders").inner_text()
        shot(page, "member-zh")

        with transaction(sessions) as s:
            link = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
        phone = browser.new_page(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
        phone.goto(base + link.url.removeprefix(settings.base_url))
        phone.click("button[type=submit].btn-block")
        phone.wait_for_url(f"{base}/portal")
        assert "Hello, Mei" in phone.inner_text("h1")
        assert "Tom" not in phone.content()
        shot(phone, "portal-home")
        phone.goto(f"{base}/portal/profile")
        phone.click(".chip:has-text('Coats')")
        with phone.expect_navigation():
            phone.click("text=Save preferences")
        assert "Your preferences are saved." in phone.inner_text(".flash")
        assert phone.locator(".chip input[value=Coats]").is_checked()
        shot(phone, "portal-profile")


def test_analytics_charts_in_a_real_browser(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    seed_crowd(sessions, tenant)
    clear_cache()
    page_cache.clear()
    mine = settings.model_copy(update={"analytics_path": str(tmp_path / "a.duckdb")})
    app = create_app(mine, engine=engine, clock=clock, run_worker=False)
    with live_server(app) as base:
        page = browser.new_page(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/login")
        page.fill("#email", tenant.owner_email)
        page.fill("#password", tenant.owner_password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")
        page.click("nav.nav a[href='/analytics']")
        page.wait_for_url(f"{base}/analytics")
        # The overview started the first sync in the background; until it is done the page says
        # the figures are being prepared and reloads itself.
        page.wait_for_selector("#fig-cohorts svg.chart", timeout=90_000)
        shot(page, "analytics")
        charts = page.locator("svg.chart")
        assert charts.count() >= 8
        box = page.locator("#fig-cohorts svg.chart").bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 100
        assert page.locator("#fig-p_alive svg.chart rect").count() >= 10
        assert page.locator("#fig-clv svg.chart").count() == 1
        assert errors == []  # no CSP violation or script error
        shot(page, "analytics")
        with page.expect_navigation():
            page.click("form.lang button[value=zh_Hans]")
        assert "复购率" in page.inner_text("#kpi-repurchase_rate")
        shot(page, "analytics-zh")


def test_member_loyalty_and_programs_in_a_real_browser(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
) -> None:
    """Sign in, open a member, read balances and statement, give points with a reason; look
    at the programs pages and the member's portal card."""
    member_id = seed_member(sessions, tenant)
    seed_loyalty(sessions, tenant, member_id)
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    with live_server(app) as base:
        page = browser.new_page(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
        page.goto(f"{base}/login")
        page.fill("#email", tenant.owner_email)
        page.fill("#password", tenant.owner_password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")

        page.goto(f"{base}/members/{member_id}")
        assert page.inner_text("#balances [data-testid=points]") == "1,234"
        assert "Birthday points" in page.inner_text("#statement")
        page.click("#adjust summary")
        page.select_option("#adj-asset", "points")
        page.fill("#adj-amount", "66")
        page.select_option("#adj-reason", "compensation")
        page.fill("#adj-description", "Sorry for the late delivery")
        with page.expect_navigation():
            page.click("#adjust button[type=submit]")
        assert "Balance adjusted." in page.inner_text(".flash")
        assert page.inner_text("#balances [data-testid=points]") == "1,300"
        assert "Sorry for the late delivery" in page.inner_text("#statement")
        shot(page, "member-loyalty")

        page.goto(f"{base}/members/{member_id}/statement")
        shot(page, "statement")
        page.goto(f"{base}/programs")
        shot(page, "programs")
        page.goto(f"{base}/programs/tiers")
        page.fill("#f-evaluation_months", "0")
        with page.expect_navigation():
            page.click(".save-bar button[type=submit]")
        assert "Must be at least 1." in page.inner_text(
            "#f-evaluation_months + .field-error, .field-error"
        )
        shot(page, "programs-tiers-error")
        page.goto(f"{base}/programs/points")
        shot(page, "programs-points")

        with transaction(sessions) as s:
            link = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
        phone = browser.new_page(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
        phone.goto(base + link.url.removeprefix(settings.base_url))
        phone.click("button[type=submit].btn-block")
        phone.wait_for_url(f"{base}/portal")
        assert phone.inner_text("[data-testid=points]") == "1,300"
        shot(phone, "portal-loyalty")
        phone.goto(f"{base}/portal/card")
        assert phone.locator(".qr svg").count() == 1
        shot(phone, "portal-card")
        phone.goto(f"{base}/portal/coupons")
        shot(phone, "portal-coupons")


def test_segment_builder_live_count_in_a_real_browser(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
) -> None:
    from playwright.sync_api import expect

    mei = seed_member(sessions, tenant, tags=["vip"])
    seed_member(
        sessions, tenant, first="Tom", last="Ng", phone="+8613900139000", email=None, order_ref=None
    )
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    with live_server(app) as base:
        page = browser.new_page(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
        page.goto(f"{base}/login")
        page.fill("#email", tenant.owner_email)
        page.fill("#password", tenant.owner_password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")
        page.goto(f"{base}/segments/new")
        page.fill("#seg-name", "Everyone or VIP")
        first = page.locator(".rule-row").nth(0)
        first.locator("select.field-pick").select_option(label="Number of purchases")
        first.locator("select.op").select_option(label="at least")
        first.locator("input[name=r0-value]").fill("1")
        expect(page.locator("#live-count")).to_have_text("1")
        high = first.locator("input[name=r0-high]")
        expect(high).to_be_hidden()
        first.locator("select.op").select_option(label="between")  # shows "and …"
        expect(high).to_be_visible()
        high.fill("5")
        expect(page.locator("#live-count")).to_have_text("1")
        first.locator("select.op").select_option(label="at least")
        expect(high).to_be_hidden()
        page.click("[data-role=add]")
        assert page.locator(".rule-row").count() == 2
        second = page.locator(".rule-row").nth(1)
        second.locator("select.field-pick").select_option(label="Tag")
        second.locator("select.op").select_option(label="does not have")
        second.locator("input[name=r1-value]").fill("vip")
        page.click("label.chip:has-text('any rule')")
        expect(page.locator("#live-count")).to_have_text("2")
        shot(page, "segment-builder")
        with page.expect_navigation():
            page.click("button[value=save]")
        assert page.locator("h1").inner_text() == "Everyone or VIP"
        assert page.locator("table.data tbody tr").count() == 2
        shot(page, "segment-detail")
        page.goto(f"{base}/segments")
        shot(page, "segments")
        for path, name in [
            ("/messages", "messages"),
            ("/message-settings", "message-settings"),
            ("/templates/new?channel=email", "template-new"),
        ]:
            page.goto(base + path)
            assert page.locator("h1").count() == 1
            shot(page, name)
        with transaction(sessions) as s:
            link = portal.create_portal_link(s, tenant.merchant_id, mei, settings=settings)
        phone = browser.new_page(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
        phone.goto(base + link.url.removeprefix(settings.base_url))
        phone.click("button[type=submit].btn-block")
        phone.wait_for_url(f"{base}/portal")
        phone.goto(f"{base}/portal/inbox")
        shot(phone, "portal-inbox")
        phone.goto(f"{base}/portal/notifications")
        shot(phone, "portal-notifications")
