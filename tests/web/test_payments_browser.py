"""A member tops up through each provider in a real browser on a phone-sized screen, in English
and Chinese: the bonus shown before paying, the fake provider marks it paid and notifies twice
(over HTTP, to the live server), and the balance shown equals the database's."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.members.schemas import MemberCreate
from patron.members.service import create_member
from patron.payments.models import PaymentOrder
from patron.portal import service as portal
from patron.programs import stored_value
from tests.conftest import Tenant
from tests.live import live_server
from tests.payments.conftest import FAKES, PROVIDERS, configure
from tests.payments.fakes import http_sender
from tests.programs.helpers import STORED, set_rules
from tests.web.conftest import shot

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
WORDS = {
    "en": {"title": "Top up", "paid": "Paid", "bonus": "20.00"},
    "zh": {"title": "充值", "paid": "已支付", "bonus": "20.00"},
}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_member_tops_up_with_each_provider(
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
    set_rules(sessions, tenant.merchant_id, stored_value=STORED)
    with transaction(sessions) as s:
        member_id = create_member(
            s,
            tenant.merchant_id,
            MemberCreate(
                first_name="Lin",
                phone="+8613800138123",
                locale="zh_Hans" if language == "zh" else "en",
            ),
        ).id
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    fakes = {name: cls(clock.now, http_sender) for name, cls in FAKES.items()}

    def snap(page: object, name: str) -> None:
        page.screenshot(path=str(tmp_path / f"{name}-{language}.png"), full_page=True)  # type: ignore[attr-defined]
        shot(page, f"top-up-{name}-{language}")

    try:
        with live_server(app) as base:
            settings.base_url = base  # the notify address the providers are given
            configure(sessions, tenant.merchant_id, fakes, base)  # type: ignore[arg-type]
            with transaction(sessions) as s:
                link = portal.create_portal_link(
                    s, tenant.merchant_id, member_id, settings=settings
                )
            phone = browser.new_context(viewport=PHONE)  # type: ignore[attr-defined]
            page = phone.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(link.url)
            with page.expect_navigation():
                page.click("form button[type=submit].btn-block")
            for n, provider in enumerate(PROVIDERS, start=1):
                page.goto(f"{base}/portal/stored-value")
                with page.expect_navigation():
                    page.click("[data-testid=top-up]")
                assert page.inner_text("h1") == words["title"]
                page.click(f"label.chip:has(input[name=provider][value={provider}])")
                snap(page, f"choose-{provider}")
                with page.expect_navigation():
                    page.click("form[action='/portal/top-up/confirm'] button[type=submit]")
                assert words["bonus"] in page.inner_text("[data-testid=pay-bonus]")
                with page.expect_navigation():
                    page.click("form[action='/portal/top-up'] button[type=submit]")
                assert (
                    page.get_attribute("[data-testid=payment-status]", "data-status") == "pending"
                )
                if provider == "stripe":
                    assert page.get_attribute("[data-testid=pay-card]", "data-client-secret")
                else:
                    assert page.locator("[data-testid=pay-qr] svg").count() == 1
                snap(page, f"pay-{provider}")
                with sessions() as s:
                    out_trade_no = s.scalars(
                        select(PaymentOrder.out_trade_no).order_by(PaymentOrder.id.desc())
                    ).first()
                assert out_trade_no is not None
                answers = fakes[provider].pay(out_trade_no, notify=2)
                assert answers == [204 if provider == "wechat_pay" else 200] * 2
                page.reload()
                status = page.inner_text("[data-testid=payment-status]")
                assert status == words["paid"]
                snap(page, f"paid-{provider}")
                with sessions() as s:
                    held = stored_value.balance(s, tenant.merchant_id, member_id)
                assert (held.principal, held.bonus) == (10000 * n, 2000 * n)
            page.goto(f"{base}/portal/stored-value")
            shown = page.inner_text("[data-testid=stored]")
            assert shown.endswith("360.00"), shown  # 3 × (100.00 + 20.00 bonus)
            with sessions() as s:
                assert stored_value.balance(s, tenant.merchant_id, member_id).total == 36000
            page.goto(f"{base}/portal/top-up")
            assert page.locator("[data-testid=payments] [data-status=paid]").count() == 3
            snap(page, "history")
            assert errors == []
            phone.close()
    finally:
        for fake in fakes.values():
            fake.close()
