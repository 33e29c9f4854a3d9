"""Store customers online and scan to buy in a real browser, in English and Chinese.

The owner reads the "store customers moving online" table on the analytics page: its numbers
equal the independent count over the database. A visitor opens a product's page on a phone
(390×844), signs in by a code and comes back to it, with their member price.

Screenshots go to the test's tmp dir (and to $PATRON_SCREENSHOTS when it is set)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics import page_cache
from patron.analytics.lifetime import clear_cache
from patron.analytics.store import wait_for_syncs
from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from tests.analytics.test_store_online import independent, seed_online
from tests.conftest import Tenant
from tests.engagement.providers import SmtpSink
from tests.live import live_server
from tests.portal.helpers import CODE, use_email
from tests.programs.helpers import MEMBER_DAY, set_rules
from tests.web.conftest import shot
from tests.web.helpers import seed_member

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
WINDOW = "period=month&from=2026-01-01&to=2026-03-31"
WORDS = {
    "en": {
        "title": "Store customers moving online",
        "months": ["Jan 2026", "Feb 2026", "Mar 2026"],
        "sign_in": "Sign in",
        "price": "Your member price",
        "money": "CN¥653.60",
    },
    "zh": {
        "title": "门店顾客转到线上",
        "months": ["2026年1月", "2026年2月", "2026年3月"],
        "sign_in": "登录",
        "price": "您的会员价",
        "money": "¥653.60",
    },
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
def test_online_table_and_product_page(
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
    clear_cache()
    page_cache.clear()
    words = WORDS[language]
    seed_online(sessions, tenant)
    expected = independent(sessions, tenant)
    use_email(sessions, tenant, smtp)
    set_rules(sessions, tenant.merchant_id, member_day=MEMBER_DAY)  # the 10th: 5% off
    seed_member(sessions, tenant, order_ref=None, locale="zh_Hans" if language == "zh" else "en")
    with transaction(sessions) as s:
        pid = create_product(
            s,
            tenant.merchant_id,
            ProductCreate(sku="LJ-1", name="明前龙井 Longjing", price_minor=68800),
        ).id
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)

    def snap(page: object, name: str) -> None:
        page.screenshot(path=str(tmp_path / f"{name}-{language}.png"), full_page=True)  # type: ignore[attr-defined]
        shot(page, f"online-{name}-{language}")

    with live_server(app) as base:
        desk = browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
        page = desk.new_page()
        page.goto(f"{base}/login")
        page.fill("#email", tenant.owner_email)
        page.fill("#password", tenant.owner_password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")
        page.goto(f"{base}/analytics?{WINDOW}")
        wait_for_syncs()
        page.goto(f"{base}/analytics?{WINDOW}")
        if language == "zh":
            with page.expect_navigation():
                page.click("form.lang button[value=zh_Hans]")
        figure = page.locator("#fig-store_online")
        assert figure.locator("h2").inner_text() == words["title"]
        rows = figure.locator("tbody tr")
        assert rows.count() == len(expected)
        for i, (period, customers, *steps) in enumerate(expected):
            cells = [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
            assert cells[0] == words["months"][i], period
            assert cells[2] == str(customers)
            # "1 (50%)": the count, then its share of the store's customers.
            assert [c.split(" ")[0] for c in cells[3:]] == [str(n) for n in steps]
        figure.scroll_into_view_if_needed()
        snap(page, "analytics")
        desk.close()

        accept = "zh-CN,zh;q=0.9" if language == "zh" else "en-GB,en;q=0.9"
        phone = browser.new_context(  # type: ignore[attr-defined]
            viewport=PHONE, extra_http_headers={"Accept-Language": accept}
        )
        page = phone.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/portal/alpha/p/{pid}")
        assert page.inner_text("h1") == "明前龙井 Longjing"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        snap(page, "product-visitor")
        with page.expect_navigation():
            page.click(f"#sign-in a.btn >> text={words['sign_in']}")
        page.fill("#contact", "mei@example.com")
        with page.expect_navigation():
            page.click("form button[type=submit].btn-block")
        page.fill("#code", _code_from(smtp))
        with page.expect_navigation():
            page.click("form[action$='/code'] button[type=submit]")
        assert page.url == f"{base}/portal/alpha/p/{pid}"
        assert words["price"] in page.inner_text("#product")
        assert page.inner_text("[data-testid=member-price]") == words["money"]
        assert page.locator("#buy svg").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        snap(page, "product-member")
        assert errors == []
        phone.close()
