"""Issue 13's whole journey in one real browser on a phone-sized screen, in English and Chinese,
on SQLite and PostgreSQL: a customer scans the store's join link, signs up with consent and the
code from the SMTP server, later signs in with the code texted by the local SMS provider, checks
in on three days (the clock moved), tops up through WeChat Pay, Alipay and Stripe (each provider
notifies twice: credited once), downloads the wallet pass, and spends at the till; the store's
"joined online" figure counts the member. Every figure read on screen is checked against the
database.

Screenshots go to the test's tmp dir (and to $PATRON_SCREENSHOTS when it is set)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.i18n import Formatter, translations_for
from patron.ledger import queries
from patron.ledger.models import JournalEntry
from patron.members.models import Member
from patron.members.schemas import MemberUpdate
from patron.members.service import update_member
from patron.orders.models import Order
from patron.payments.models import PaymentOrder
from patron.portal.models import MemberJoin
from patron.programs.models import OrderPayment, TopUp
from patron.rewards.models import MemberCheckIn
from patron.wallet import service as wallet
from tests.conftest import Tenant
from tests.engagement.providers import ProviderServer, SmtpSink
from tests.live import live_server
from tests.payments.conftest import FAKES, PROVIDERS, configure
from tests.payments.fakes import http_sender
from tests.portal.helpers import CODE, join_path, use_email, use_sms
from tests.programs.helpers import add_products, typical_program
from tests.rewards.helpers import CHECK_IN
from tests.wallet.certs import make_chain
from tests.web.conftest import shot
from tests.web.helpers import add_staff

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}
DAY = timedelta(days=1)
MOBILE = "+8613912345678"
ACCEPT = {"en": "en-GB,en;q=0.9", "zh_Hans": "zh-CN,zh;q=0.9"}


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def sms() -> Iterator[ProviderServer]:
    with ProviderServer(lambda url, body, headers: 200) as server:
        yield server


def _wait_for(what: str, found: object) -> None:
    deadline = time.monotonic() + 10
    while not found():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"no {what} arrived"
        time.sleep(0.05)


def _go(page: object, selector: str) -> None:
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.click(selector)  # type: ignore[attr-defined]


def _points(sessions: sessionmaker[Session], tenant: Tenant, member_id: int) -> int:
    with sessions() as s:
        return int(queries.member_balances(s, tenant.merchant_id, member_id).balances["points"])


@pytest.mark.parametrize("lang", ["en", "zh_Hans"])
def test_a_customer_joins_and_serves_themselves(
    browser: object,
    engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    smtp: SmtpSink,
    sms: ProviderServer,
    tmp_path: Path,
    lang: str,
) -> None:
    m = tenant.merchant_id
    _ = translations_for(lang).gettext
    fmt = Formatter(lang, "CNY")
    use_email(sessions, tenant, smtp)
    use_sms(sessions, tenant, sms)
    typical_program(sessions, m, check_in=CHECK_IN)
    add_products(sessions, m)
    chain = make_chain("pass.test.patron")
    with transaction(sessions) as s:
        wallet.save_settings(
            s,
            m,
            wallet.SettingsIn(
                apple_pass_type_id="pass.test.patron",
                apple_team_id="TEAM123456",
                apple_certificate=chain.cert_pem,
                apple_key=chain.key_pem,
                apple_wwdr=chain.ca_pem,
            ),
        )
    clerk_email, clerk_password = add_staff(sessions, tenant, "clerk")
    path = join_path(sessions, settings, tenant, source="counter-poster")
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    fakes = {name: cls(clock.now, http_sender) for name, cls in FAKES.items()}

    def snap(page: object, name: str) -> None:
        page.screenshot(path=str(tmp_path / f"{name}-{lang}.png"), full_page=True)  # type: ignore[attr-defined]
        shot(page, f"self-service-{name}-{lang}")

    try:
        with live_server(app) as base:
            settings.base_url = base  # the notify address given to the payment providers
            configure(sessions, m, fakes, base)  # type: ignore[arg-type]
            phone = browser.new_context(  # type: ignore[attr-defined]
                viewport=PHONE,
                extra_http_headers={"Accept-Language": ACCEPT[lang]},
                accept_downloads=True,
            )
            page = phone.new_page()
            errors: list[str] = []
            page.on("console", lambda e: errors.append(e.text) if e.type == "error" else None)

            # Monday, at the counter: scan the poster, sign up, the code comes by email.
            page.goto(base + path)
            assert page.inner_text("h1") == _("Become a member")
            page.fill("#contact", "lin.wu@example.com")
            page.fill("#first_name", "Lin")
            page.fill("#last_name", "Wu")
            page.locator("input[name=topic]").first.check()
            snap(page, "join")
            _go(page, "form button[type=submit].btn-block")
            _wait_for("email", lambda: smtp.messages)
            body = smtp.messages[-1].get_body(("plain",))
            assert body is not None
            code = CODE.search(body.get_content())
            assert code
            page.fill("#code", code.group(1))
            _go(page, "form[action$='/code'] button[type=submit]")
            assert page.url == f"{base}/portal"
            with sessions() as s:
                member = s.scalars(select(Member).where(Member.merchant_id == m)).one()
                member_id = member.id
                assert member.email == "lin.wu@example.com"

            # The clerk records the member's mobile; the member signs in again by text message.
            with transaction(sessions) as s:
                update_member(s, m, member_id, MemberUpdate(phone=MOBILE))
            page.goto(f"{base}/portal/profile")
            _go(page, "form[action='/portal/logout'] button[type=submit]")
            page.goto(f"{base}/portal/alpha/signin")
            page.fill("#contact", MOBILE)
            _go(page, "form button[type=submit].btn-block")
            _wait_for("text message", lambda: sms.state.sms)
            texted = CODE.search(sms.state.sms[-1]["Body"])
            assert texted and sms.state.sms[-1]["To"] == MOBILE
            page.fill("#code", texted.group(1))
            _go(page, "form[action$='/code'] button[type=submit]")
            assert page.url == f"{base}/portal"

            # Three days of check-ins: 5, 10 and 15 + the day-3 milestone of 50 points.
            for day, earned in ((1, 5), (2, 10), (3, 65)):
                if day > 1:
                    clock.advance(DAY)
                    page.goto(f"{base}/portal")
                before = _points(sessions, tenant, member_id)
                _go(page, "[data-testid=check-in-button]")
                assert page.get_attribute("[data-testid=streak]", "data-streak") == str(day)
                shown = page.inner_text("[data-testid=points]")
                assert shown == str(_points(sessions, tenant, member_id)) == str(before + earned)
                snap(page, f"check-in-{day}")
            with sessions() as s:
                days = s.scalars(
                    select(MemberCheckIn.streak).where(MemberCheckIn.member_id == member_id)
                ).all()
            assert sorted(days) == [1, 2, 3]

            # Top up 100.00 through each provider; each notifies twice, each credits once.
            for n, provider in enumerate(PROVIDERS, start=1):
                page.goto(f"{base}/portal/stored-value")
                _go(page, "[data-testid=top-up]")
                page.click(f"label.chip:has(input[name=provider][value={provider}])")
                _go(page, "form[action='/portal/top-up/confirm'] button[type=submit]")
                assert fmt.money(2000) in page.inner_text("[data-testid=pay-bonus]")
                _go(page, "form[action='/portal/top-up'] button[type=submit]")
                with sessions() as s:
                    out_trade_no = s.scalars(
                        select(PaymentOrder.out_trade_no).order_by(PaymentOrder.id.desc())
                    ).first()
                assert out_trade_no is not None
                assert len(fakes[provider].pay(out_trade_no, notify=2)) == 2
                page.reload()
                assert page.inner_text("[data-testid=payment-status]") == _("Paid")
                with sessions() as s:
                    top_ups = s.scalars(select(TopUp).where(TopUp.member_id == member_id)).all()
                assert [(t.principal_minor, t.bonus_minor) for t in top_ups] == [(10000, 2000)] * n
            page.goto(f"{base}/portal/stored-value")
            assert page.inner_text("[data-testid=stored]").endswith(fmt.money(36000)[-6:])
            snap(page, "stored-value")

            # The wallet pass carries the points the database holds.
            page.goto(f"{base}/portal/card")
            with page.expect_download() as got:
                page.click("[data-testid=apple-wallet]")
            archive = zipfile.ZipFile(io.BytesIO(Path(got.value.path()).read_bytes()))
            card = json.loads(archive.read("pass.json"))
            points_field = card["storeCard"]["primaryFields"][0]
            assert points_field["value"] == _points(sessions, tenant, member_id) == 80
            snap(page, "card")
            assert errors == []
            phone.close()

            # At the till: the clerk finds the member by the last four digits and sells a cup,
            # 45.00, paid from stored value.
            desk = browser.new_context(  # type: ignore[attr-defined]
                viewport=TABLET, extra_http_headers={"Accept-Language": ACCEPT[lang]}
            )
            till = desk.new_page()
            till.goto(f"{base}/login")
            till.fill("#email", clerk_email)
            till.fill("#password", clerk_password)
            till.click("button[type=submit].btn-block")
            till.wait_for_url(f"{base}/dashboard")
            if lang != "en":
                _go(till, f"form.lang button[value={lang}]")
            till.goto(f"{base}/till")
            till.fill("#till-find", MOBILE[-4:])
            _go(till, "form.find-form button[type=submit]")
            assert till.inner_text("[data-testid=till-stored]") == fmt.money(36000)
            till.fill("#catalogue-q", "CUP")
            _go(till, "#catalogue form.row button[type=submit]")
            _go(till, "[data-testid=add-CUP-1]")
            till.fill("#pay-stored", "45")
            _go(till, "form.pay-form:has(#pay-stored) button")
            _go(till, "[data-testid=charge]")
            number = till.inner_text("[data-testid=order-number]")
            with sessions() as s:
                order = s.scalars(
                    select(Order).where(Order.merchant_id == m, Order.external_id == number)
                ).one()
                paid = s.scalars(
                    select(OrderPayment).where(OrderPayment.order_id == order.id)
                ).one()
            assert order.member_id == member_id and order.total_minor == 4500
            assert paid.stored_principal_minor + paid.stored_bonus_minor == 4500
            assert paid.cash_minor == 0
            snap(till, "till-receipt")
            desk.close()

            # The owner reads the store's figure: one customer joined online.
            owner = browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
            desk_page = owner.new_page()
            desk_page.goto(f"{base}/login")
            desk_page.fill("#email", tenant.owner_email)
            desk_page.fill("#password", tenant.owner_password)
            desk_page.click("button[type=submit].btn-block")
            desk_page.wait_for_url(f"{base}/dashboard")
            if lang != "en":
                _go(desk_page, f"form.lang button[value={lang}]")
            desk_page.goto(f"{base}/stores")
            joined_shown = desk_page.inner_text(f"[data-testid=joined-{tenant.store_id}]")
            snap(desk_page, "stores")
            owner.close()
    finally:
        for fake in fakes.values():
            fake.close()

    with sessions() as s:
        joined = s.scalar(
            select(func.count())
            .select_from(MemberJoin)
            .where(MemberJoin.store_id == tenant.store_id, MemberJoin.member_id == member_id)
        )
        entries = s.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.reason_code == "top_up")
        )
    assert joined_shown == str(joined) == "1"
    assert entries == 3
