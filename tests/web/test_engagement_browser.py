"""Campaign and journey pages in a real browser (Chromium through Playwright), both databases:
the results chart is drawn, the CSP lets the page load without errors, the library switches a
journey on. Set PATRON_SCREENSHOTS=<dir> to keep screenshots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.campaigns import service as campaigns
from patron.engagement.campaigns.draw import holdout_draw
from patron.engagement.campaigns.schemas import CampaignPatch
from tests.conftest import Tenant
from tests.live import live_server
from tests.web.conftest import shot
from tests.web.test_campaign_pages import _buy, _draft, _member, _setup

pytestmark = pytest.mark.browser


def test_campaign_results_and_journeys_in_a_real_browser(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
) -> None:
    ids = _setup(sessions, tenant, n=1)
    pool = [_member(sessions, tenant, f"P{i}", tag="pool") for i in range(40)]
    campaign_id = _draft(sessions, tenant, ids, holdout_percent=30, results_window_days=14)
    _draft(sessions, tenant, ids)  # a second, still a draft
    chosen = pool[:36]
    with transaction(sessions) as s:
        patch = CampaignPatch(member_ids=chosen)
        campaigns.update_campaign(s, tenant.merchant_id, campaign_id, patch)
        campaigns.launch(s, tenant.merchant_id, campaign_id)
    clock.advance(timedelta(days=1))
    for i, m in enumerate(chosen):
        treated = holdout_draw(campaign_id, m) >= 3000
        if i % (2 if treated else 4) == 0:
            _buy(sessions, tenant, m, f"o{i}", 8000 + 350 * i)
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
        page.goto(f"{base}/campaigns")
        shot(page, "campaigns")
        page.goto(f"{base}/campaigns/{campaign_id}")
        assert page.locator("#chart-rate svg circle").count() == 1
        assert page.locator("#results-table tbody tr").count() == 2
        shot(page, "campaign")
        page.goto(f"{base}/campaigns/new")
        shot(page, "campaign-new")
        page.goto(f"{base}/journeys")
        with page.expect_navigation():
            page.click("#lib-welcome button[type=submit]")
        assert "Welcome series" in page.inner_text("h1")
        shot(page, "journey")
        page.click("#step-hello a")
        page.fill("#who", "P1")
        with page.expect_navigation():
            page.click("#preview button[type=submit]")
        assert "Welcome, P1" in page.inner_text("#preview")
        shot(page, "journey-step")
        page.goto(f"{base}/journeys")
        shot(page, "journeys")
        with page.expect_navigation():
            page.click("form.lang button[value=zh_Hans]")
        shot(page, "journeys-zh")
        page.goto(f"{base}/campaigns/{campaign_id}")
        shot(page, "campaign-zh")
        assert errors == []
