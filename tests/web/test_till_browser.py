"""A clerk at the till on a tablet (1024×768), in a real browser (Debian's Chromium through
Playwright) against a real server, on SQLite and PostgreSQL: find the member by the last four
digits, build the cart, apply the coupon, points and stored value, charge, read the receipt,
refund one line reading the cash to hand back, and top up — every figure on screen checked
against the database.

Set PATRON_SCREENSHOTS=<dir> to keep a screenshot of each page (English, then Chinese)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.coupons.models import CouponCode
from patron.orders.models import Order, Refund
from patron.programs.models import OrderPayment, TopUp
from tests.conftest import Tenant
from tests.live import live_server
from tests.web.conftest import shot
from tests.web.helpers import add_staff
from tests.web.till_data import balances, seed_shop

pytestmark = pytest.mark.browser


def cny(minor: int) -> str:
    """Money as the English pages show it (en_GB)."""
    return str(format_currency(Decimal(minor).scaleb(-2), "CNY", locale="en_GB"))


def _go(page: object, selector: str) -> None:
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.click(selector)  # type: ignore[attr-defined]


def test_a_clerk_sells_refunds_and_tops_up_on_a_tablet(
    browser: object,
    engine: object,
    settings: Settings,
    clock: FrozenClock,
    tenant: Tenant,
    sessions: sessionmaker[Session],
) -> None:
    shop = seed_shop(sessions, clock, tenant)
    email, password = add_staff(sessions, tenant, "clerk")
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)  # type: ignore[arg-type]
    with live_server(app) as base:
        page = browser.new_page(viewport={"width": 1024, "height": 768})  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/login")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("button[type=submit].btn-block")
        page.wait_for_url(f"{base}/dashboard")
        _go(page, "nav.nav a[href='/till']")
        shot(page, "till-empty")

        # Find the member by the last four digits of the phone.
        page.fill("#till-find", "0001")
        _go(page, "form.find-form button[type=submit]")
        assert page.inner_text("[data-testid=member-name]") == "Li Wei"
        held = balances(sessions, tenant, shop.member_id)
        assert page.inner_text("[data-testid=till-points]") == str(held["spendable"]) == "300"
        stored = held["stored_principal"] + held["stored_bonus"]
        assert page.inner_text("[data-testid=till-stored]") == cny(stored) == "CN¥120.00"

        # The cart from the catalogue: by name, then by category.
        page.fill("#catalogue-q", "Green")
        _go(page, "#catalogue form.row button[type=submit]")
        _go(page, "[data-testid=add-TEA-1]")
        _go(page, "[data-testid=add-TEA-1]")
        _go(page, "#catalogue a.chip:text-is('ware')")
        _go(page, "[data-testid=add-CUP-1]")
        assert page.inner_text("[data-testid=subtotal]") == "CN¥301.00"

        # The coupon the till suggests, all the points on offer, 50.00 of stored value.
        _go(page, "[data-testid=use-coupon]")
        assert "Coupon applied." in page.inner_text(".flash")
        _go(page, "[data-testid=use-points]")
        page.fill("#pay-stored", "50")
        _go(page, "form.pay-form:has(#pay-stored) button")
        assert page.inner_text("[data-testid=total]") == "CN¥291.00"
        assert page.inner_text("[data-testid=cash-due]") == "CN¥238.00"
        shot(page, "till-quote")

        _go(page, "[data-testid=charge]")
        number = page.inner_text("[data-testid=order-number]")
        with sessions() as s:
            order = s.scalars(select(Order).where(Order.external_id == number)).one()
            paid = s.scalars(select(OrderPayment).where(OrderPayment.order_id == order.id)).one()
            code = s.scalars(select(CouponCode).where(CouponCode.code == shop.coupon)).one()
        assert page.inner_text("[data-testid=receipt-total]") == cny(order.total_minor)
        assert page.inner_text("[data-testid=receipt-points]") == "−" + cny(paid.points_value_minor)
        stored_paid = paid.stored_principal_minor + paid.stored_bonus_minor
        assert page.inner_text("[data-testid=receipt-stored]") == "−" + cny(stored_paid)
        assert page.inner_text("[data-testid=receipt-cash]") == cny(paid.cash_minor)
        assert (order.total_minor, paid.cash_minor, code.status) == (29100, 23800, "redeemed")
        assert f"Points earned: {paid.points_earned}" in page.inner_text("[data-testid=receipt]")
        shot(page, "till-receipt")

        # Refund the cup: the cash to hand back is shown before anything is done.
        _go(page, f"a[href='/till/orders/{order.id}']")
        page.fill("#qty-2", "1")
        _go(page, "[data-testid=check-refund]")
        cash_back = page.inner_text("[data-testid=cash-back]")
        assert cash_back == "CN¥35.59"
        with sessions() as s:
            assert s.scalars(select(Refund).where(Refund.order_id == order.id)).all() == []
        shot(page, "till-refund")
        before = balances(sessions, tenant, shop.member_id)
        _go(page, "[data-testid=confirm-refund]")
        assert f"Refund recorded. Hand back {cash_back}." in page.inner_text(".flash")
        with sessions() as s:
            refund = s.scalars(select(Refund).where(Refund.order_id == order.id)).one()
            paid = s.scalars(select(OrderPayment).where(OrderPayment.order_id == order.id)).one()
        after = balances(sessions, tenant, shop.member_id)
        # The cash is what the refund paid back, less what went back to the member's balances.
        back_value = paid.points_value_minor * refund.amount_minor // order.total_minor
        assert cny(refund.amount_minor - paid.principal_returned_minor - back_value) == cash_back
        assert (
            after["stored_principal"] - before["stored_principal"] == paid.principal_returned_minor
        )
        assert after["spendable"] - before["spendable"] == paid.points_returned == 44

        # Top up 500.00: the bonus (150.00) is shown before the member pays.
        page.goto(f"{base}/till")
        page.fill("#till-find", "0001")
        _go(page, "form.find-form button[type=submit]")
        page.fill("#top-up-amount", "500")
        _go(page, "form[action$='/top-up'] button")
        assert page.inner_text("[data-testid=top-up-bonus]") == "+CN¥150.00"
        shown_after = page.inner_text("[data-testid=top-up-after]")
        shot(page, "till-top-up")
        _go(page, "[data-testid=confirm-top-up]")
        held = balances(sessions, tenant, shop.member_id)
        total = held["stored_principal"] + held["stored_bonus"]
        assert shown_after == cny(total) == page.inner_text("[data-testid=till-stored]")
        with sessions() as s:
            row = s.scalars(select(TopUp).where(TopUp.member_id == shop.member_id)).all()[-1]
        assert (row.principal_minor, row.bonus_minor) == (50000, 15000)
        assert f"Stored value now {cny(total)}." in page.inner_text(".flash")

        # The same till in Chinese, at the same size.
        _go(page, "form.lang button[value=zh_Hans]")
        assert "收银台" in page.inner_text("h1") and "顾客" in page.inner_text("#member")
        shot(page, "till-zh")
        page.goto(f"{base}/till/orders/{order.id}")
        assert "商品合计" in page.inner_text("[data-testid=order-total]")
        shot(page, "till-order-zh")
        assert errors == []  # no CSP violation or script error
