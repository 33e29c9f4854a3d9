"""A merchant's week (issue 10), in a real browser (Debian's Chromium through Playwright) against a
real server, on SQLite and PostgreSQL, in English and in Chinese, as the owner and as a clerk:

- the owner imports a Shopify customers export with bad rows, a Shopify orders export and an
  orders file saved by Excel in Chinese (GBK) through the dashboard, and reads what each did;
- finds a member by the last four digits of the phone and by a tag;
- a clerk at the till sells with a coupon, points and stored value, refunds part of the sale
  reading the cash to hand back, and tops up;
- the owner launches an email campaign to a real SMTP server (aiosmtpd on loopback) and reads
  delivered and skipped counts equal to what that server received;
- the owner opens analytics.

Every figure on screen is checked against the database (or the SMTP server). Set
PATRON_SCREENSHOTS=<dir> to keep a screenshot of each page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement import library
from patron.engagement.models import Message
from patron.engagement.segments.service import create_segment
from patron.i18n import Formatter, translations_for
from patron.imports.models import ImportJob, ImportReject
from patron.members.models import Member
from patron.orders.models import Order, Refund
from patron.programs.models import OrderPayment, TopUp
from patron.worker import drain
from tests.conftest import Tenant
from tests.engagement.providers import SmtpSink
from tests.imports.fixtures import SHOPIFY_CUSTOMERS, SHOPIFY_ORDERS
from tests.live import live_server
from tests.web.conftest import shot
from tests.web.helpers import add_staff
from tests.web.test_import_pages import GBK_ORDERS
from tests.web.till_data import balances, seed_shop

pytestmark = pytest.mark.browser


WINTER_TEAS = {
    "en": {"subject": "Winter teas are in", "html": "<p>Come and taste.</p>", "text": "Come."},
    "zh_Hans": {"subject": "冬季新茶到店", "html": "<p>欢迎品尝。</p>", "text": "欢迎品尝。"},
}


class Reader:
    """What a reader in ``lang`` sees: our catalogue's words, money as Babel writes it."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.fmt = Formatter(lang, "CNY")
        self._ = translations_for(lang).gettext

    def money(self, minor: int) -> str:
        return self.fmt.money(minor)

    def says(self, msgid: str, **params: object) -> str:
        return self._(msgid) % params if params else self._(msgid)


def _go(page: object, selector: str) -> None:
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.click(selector)  # type: ignore[attr-defined]


def _sign_in(page: object, base: str, email: str, password: str, lang: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("#email", email)  # type: ignore[attr-defined]
    page.fill("#password", password)  # type: ignore[attr-defined]
    page.click("button[type=submit].btn-block")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/dashboard")  # type: ignore[attr-defined]
    if lang != "en":
        _go(page, f"form.lang button[value={lang}]")


def _counts(page: object) -> dict[str, int]:
    cells = page.query_selector_all("[data-count]")  # type: ignore[attr-defined]
    return {c.get_attribute("data-count"): int(re.sub(r"[^\d]", "", c.inner_text())) for c in cells}


def _count(sessions: sessionmaker[Session], model: type, *where: object) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def _import(
    page: object,
    base: str,
    drain_now: Callable[[], None],
    kind: str,
    fmt: str,
    name: str,
    data: bytes,
) -> int:
    """Upload a file through the dashboard's form; the worker imports it; the job's id."""
    page.goto(f"{base}/imports")  # type: ignore[attr-defined]
    page.check(f"input[name=kind][value={kind}]")  # type: ignore[attr-defined]
    page.select_option("#format", fmt)  # type: ignore[attr-defined]
    page.set_input_files(  # type: ignore[attr-defined]
        "#file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )
    _go(page, "form.upload-form button[type=submit]")
    found = re.search(r"/imports/(\d+)$", page.url)  # type: ignore[attr-defined]
    assert found, page.url  # type: ignore[attr-defined]
    drain_now()
    page.reload()  # type: ignore[attr-defined]
    return int(found.group(1))


@pytest.mark.parametrize("lang", ["en", "zh_Hans"])
def test_a_merchants_week(
    browser: object,
    engine: object,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    lang: str,
) -> None:
    me = Reader(lang)
    m = tenant.merchant_id
    shop = seed_shop(sessions, clock, tenant)
    clerk_email, clerk_password = add_staff(sessions, tenant, "clerk")
    with transaction(sessions) as s:
        everyone = create_segment(
            s, m, "Everyone", {"field": "orders_count", "op": "gte", "value": 0}
        ).id
        winter = library.create_template(s, m, "Winter teas", "email", WINTER_TEAS).id
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)  # type: ignore[arg-type]

    def drain_now() -> None:
        drain(sessions, settings)

    with live_server(app) as base:
        owner_context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        page = owner_context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        _sign_in(page, base, tenant.owner_email, tenant.owner_password, lang)

        # Monday: the owner brings the shop's customers and orders over from Shopify.
        job = _import(
            page,
            base,
            drain_now,
            "customers",
            "shopify",
            "customers.csv",
            SHOPIFY_CUSTOMERS.encode(),
        )
        shown = _counts(page)
        assert shown == {"read": 6, "created": 3, "updated": 0, "unchanged": 0, "rejected": 3}
        imported = _count(sessions, Member, Member.merchant_id == m) - 1  # Li Wei was there
        assert imported == shown["created"]
        assert _count(sessions, ImportReject, ImportReject.job_id == job) == shown["rejected"]
        report = page.request.get(f"{base}/imports/{job}/rejects.csv")
        assert report.status == 200
        lines = report.body().decode("utf-8-sig").splitlines()
        assert len(lines) == 1 + shown["rejected"]
        assert lines[1].split(",")[1] == me.says(
            "not a valid email: %(value)s", value="'not-an-email'"
        )
        shot(page, f"week-{lang}-import-customers")

        orders_before = _count(sessions, Order, Order.merchant_id == m)
        _import(page, base, drain_now, "orders", "shopify", "orders.csv", SHOPIFY_ORDERS.encode())
        shown = _counts(page)
        written = _count(sessions, Order, Order.merchant_id == m) - orders_before
        assert shown["created"] == written > 0
        assert (
            shown["read"]
            == shown["created"] + shown["updated"] + shown["unchanged"] + shown["rejected"]
        )

        orders_before += written
        job = _import(page, base, drain_now, "orders", "auto", "订单.csv", GBK_ORDERS.encode("gbk"))
        shown = _counts(page)
        assert (shown["read"], shown["created"], shown["rejected"]) == (3, 1, 2)
        assert _count(sessions, Order, Order.merchant_id == m) - orders_before == 1
        with sessions() as s:
            row = s.get(ImportJob, job)
            assert row is not None and row.encoding == "gb18030"
        shot(page, f"week-{lang}-import-gbk")

        # Tuesday: a customer on the phone gives the last four digits; another is a VIP.
        page.goto(f"{base}/members")
        page.fill("#q", "5678")
        _go(page, "form.filters button[type=submit]")
        rows = page.query_selector_all("table.data tbody tr")
        with sessions() as s:
            mei = s.scalars(
                select(Member).where(Member.merchant_id == m, Member.phone.like("%5678"))
            ).one()
        assert len(rows) == 1 and "Mei" in rows[0].inner_text()
        assert mei.email == "mei.chen@example.com"
        page.fill("#q", "vip")
        _go(page, "form.filters button[type=submit]")
        rows = page.query_selector_all("table.data tbody tr")
        assert len(rows) == 1 and "Mei" in rows[0].inner_text()
        shot(page, f"week-{lang}-members")

        # Wednesday: a clerk at the till on a tablet.
        clerk_context = browser.new_context(viewport={"width": 1024, "height": 768})  # type: ignore[attr-defined]
        till = clerk_context.new_page()
        till.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        _sign_in(till, base, clerk_email, clerk_password, lang)
        _go(till, "nav.nav a[href='/till']")
        till.fill("#till-find", "0001")
        _go(till, "form.find-form button[type=submit]")
        held = balances(sessions, tenant, shop.member_id)
        assert till.inner_text("[data-testid=till-points]") == str(held["spendable"]) == "300"
        stored = held["stored_principal"] + held["stored_bonus"]
        assert till.inner_text("[data-testid=till-stored]") == me.money(stored)
        till.fill("#catalogue-q", "Green")
        _go(till, "#catalogue form.row button[type=submit]")
        _go(till, "[data-testid=add-TEA-1]")
        _go(till, "[data-testid=add-TEA-1]")
        till.fill("#catalogue-q", "CUP")
        _go(till, "#catalogue form.row button[type=submit]")
        _go(till, "[data-testid=add-CUP-1]")
        assert till.inner_text("[data-testid=subtotal]") == me.money(30100)
        _go(till, "[data-testid=use-coupon]")
        assert me.says("Coupon applied.") in till.inner_text(".flash")
        _go(till, "[data-testid=use-points]")
        till.fill("#pay-stored", "50")
        _go(till, "form.pay-form:has(#pay-stored) button")
        total_shown = till.inner_text("[data-testid=total]")
        cash_shown = till.inner_text("[data-testid=cash-due]")
        shot(till, f"week-{lang}-till-quote")
        _go(till, "[data-testid=charge]")
        number = till.inner_text("[data-testid=order-number]")
        with sessions() as s:
            order = s.scalars(
                select(Order).where(Order.merchant_id == m, Order.external_id == number)
            ).one()
            paid = s.scalars(select(OrderPayment).where(OrderPayment.order_id == order.id)).one()
        assert total_shown == me.money(order.total_minor) == me.money(29100)
        assert cash_shown == me.money(paid.cash_minor) == me.money(23800)
        assert till.inner_text("[data-testid=receipt-total]") == me.money(order.total_minor)
        assert till.inner_text("[data-testid=receipt-cash]") == me.money(paid.cash_minor)
        shot(till, f"week-{lang}-till-receipt")

        # The customer brings the cup back: the cash to hand back, before anything is done.
        _go(till, f"a[href='/till/orders/{order.id}']")
        till.fill("#qty-2", "1")
        _go(till, "[data-testid=check-refund]")
        cash_back = till.inner_text("[data-testid=cash-back]")
        assert _count(sessions, Refund, Refund.order_id == order.id) == 0
        _go(till, "[data-testid=confirm-refund]")
        assert me.says("Refund recorded. Hand back %(cash)s.", cash=cash_back) in till.inner_text(
            ".flash"
        )
        with sessions() as s:
            refund = s.scalars(select(Refund).where(Refund.order_id == order.id)).one()
            paid = s.scalars(select(OrderPayment).where(OrderPayment.order_id == order.id)).one()
        back_value = paid.points_value_minor * refund.amount_minor // order.total_minor
        cash_returned = refund.amount_minor - paid.principal_returned_minor - back_value
        assert cash_back == me.money(cash_returned) == me.money(3559)
        shot(till, f"week-{lang}-till-refund")

        # A top-up of 500.00: the bonus shown before the member pays, then recorded once.
        till.goto(f"{base}/till")
        till.fill("#till-find", "0001")
        _go(till, "form.find-form button[type=submit]")
        till.fill("#top-up-amount", "500")
        _go(till, "form[action$='/top-up'] button")
        assert till.inner_text("[data-testid=top-up-bonus]") == "+" + me.money(15000)
        _go(till, "[data-testid=confirm-top-up]")
        with sessions() as s:
            tops = s.scalars(select(TopUp).where(TopUp.member_id == shop.member_id)).all()
        assert [(t.principal_minor, t.bonus_minor) for t in tops][-1] == (50000, 15000)
        held = balances(sessions, tenant, shop.member_id)
        total = held["stored_principal"] + held["stored_bonus"]
        assert till.inner_text("[data-testid=till-stored]") == me.money(total)
        shot(till, f"week-{lang}-till-top-up")
        clerk_context.close()

        # Friday: the owner sets up email and launches a campaign to everyone; a real SMTP server
        # receives what went out, and the page counts what was sent and what was skipped.
        with SmtpSink() as smtp:
            page.goto(f"{base}/message-settings")
            form = "form#channel-email"
            page.click(f"{form} label.switch[for=email-enabled]")  # the switch, as a user taps it
            assert page.is_checked(f"{form} #email-enabled")
            page.fill(f"{form} #email-host", "127.0.0.1")
            page.fill(f"{form} #email-port", str(smtp.port))
            page.fill(f"{form} #email-from_address", "news@alpha.test")
            _go(page, f"{form} button[type=submit]")
            page.goto(f"{base}/campaigns/new")
            page.fill("#f-name", "Winter teas are in")
            page.select_option("#f-segment_id", str(everyone))
            page.select_option("#f-channel", "email")
            page.select_option("#f-template_id", str(winter))
            page.select_option("#f-topic", "marketing")
            _go(page, f"form button[type=submit]:text-is('{me.says('Save draft')}')")
            # Before launching: who it would reach, and why not the others.
            reach = {
                cell.get_attribute("data-reach"): int(cell.inner_text().replace(",", ""))
                for cell in page.query_selector_all("tr[data-channel=email] [data-reach]")
            }
            shot(page, f"week-{lang}-campaign-draft")
            _go(page, "form#launch button[type=submit]")
            drain_now()
            page.reload()
            counts = {
                cell.get_attribute("data-count"): int(
                    cell.query_selector(".value").inner_text().replace(",", "")
                )
                for cell in page.query_selector_all("[data-counts] .stat[data-count]")
            }
            skipped = {
                li.get_attribute("data-skipped"): int(li.query_selector("b").inner_text())
                for li in page.query_selector_all("[data-skipped]")
            }
            shot(page, f"week-{lang}-campaign-sent")
            with sessions() as s:
                rows = s.execute(
                    select(Message.status, Member.email)
                    .join(Member, Member.id == Message.member_id)
                    .where(Message.merchant_id == m, Message.channel == "email")
                ).all()
            received = sorted(str(mail["To"]) for mail in smtp.messages)
        delivered = sorted(str(r.email) for r in rows if r.status in ("sent", "delivered"))
        assert received == delivered == ["mei.chen@example.com"]  # the one who said yes
        assert counts["sent"] + counts["delivered"] == len(received) == reach["reached"]
        assert (
            counts["skipped"] == sum(skipped.values()) == sum(r.status == "skipped" for r in rows)
        )
        why_not = {k: n for k, n in reach.items() if k not in ("reached", "quiet_hours") and n}
        assert skipped == why_not == {"consent": 4}  # Li Wei, Tom, quiet@, the new buyer
        assert (counts["queued"], counts["failed"], counts["unknown"]) == (0, 0, 0)

        # Sunday: the owner reads the week in analytics.
        from patron.analytics.store import wait_for_syncs

        window = "period=month&from=2025-06-01&to=2026-03-31"
        page.goto(f"{base}/analytics?{window}")
        # The copy was synced when the owner signed in (the overview's sales), before the imports:
        # the page says how old it is, and "Refresh now" brings the week in.
        wait_for_syncs()
        _go(page, "form[action='/analytics/sync'] button")
        wait_for_syncs()
        page.goto(f"{base}/analytics?{window}")
        with sessions() as s:
            buyers = s.scalar(
                select(func.count(func.distinct(Order.member_id))).where(
                    Order.merchant_id == m,
                    Order.member_id.is_not(None),
                    Order.status.not_in(["refunded", "cancelled"]),  # docs/analytics.md
                )
            )
        assert page.inner_text("#kpi-customers .value") == str(buyers)
        shot(page, f"week-{lang}-analytics")
        owner_context.close()
        assert errors == []  # no CSP violation or script error
