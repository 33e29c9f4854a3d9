"""Orders, refunds and top-ups at the till, the order card's explained total, and who may reach
which till page. On SQLite and PostgreSQL; every figure is checked against the database."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.orders.models import Order, OrderLine, Refund
from patron.orders.schemas import OrderCreate, OrderLineIn
from patron.orders.service import create_order
from patron.programs.models import OrderPayment, TopUp
from tests.conftest import Tenant
from tests.web.helpers import add_staff, csrf_of, seed_member, sign_in, sign_in_as
from tests.web.till_data import Shop, balances, counts, post, seed_shop

SECRET = "test-secret-key-0123456789"
KEY = re.compile(r'name="key" value="([^"]+)"')


def _sold(sessions: sessionmaker[Session], tenant: Tenant, shop: Shop) -> int:
    """Li Wei bought 2 teas and a cup (301.00) with the 10.00 coupon, 300 points (3.00) and
    50.00 of stored value, paying 238.00: order T-TEST-0001."""
    with transaction(sessions) as s:
        out = checkout.commit(
            s,
            tenant.merchant_id,
            CommitRequest(
                member_id=shop.member_id,
                lines=[{"sku": "TEA-1", "quantity": 2}, {"sku": "CUP-1", "quantity": 1}],
                coupon_codes=[shop.coupon],
                points=300,
                stored_value=5000,
                order_external_id="T-TEST-0001",
            ),
            "till-test-sale-key-0001",
            "test",
            secret=SECRET,
        )
    assert out.quote.cash_due_minor == 23800
    return out.order_id


def _clerk(client: TestClient, sessions: sessionmaker[Session], tenant: Tenant) -> None:
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)


def test_refund_shows_the_cash_to_hand_back_first_and_is_recorded_once(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    shop = seed_shop(sessions, clock, tenant)
    order_id = _sold(sessions, tenant, shop)
    _clerk(client, sessions, tenant)
    found = client.get("/till/orders?ref=t-test-0001", follow_redirects=False)
    assert found.headers["location"] == f"/till/orders/{order_id}"
    page = client.get(f"/till/orders/{order_id}").text
    # The order card explains its total: 301.00 − 10.00 coupon = 291.00; − 3.00 points − 50.00
    # stored value = 238.00 paid.
    assert 'data-testid="order-coupon">−CN¥10.00<' in page and "Coupon Ten off" in page
    assert 'data-testid="order-total-goods">CN¥291.00<' in page
    assert 'data-testid="order-points">−CN¥3.00<' in page
    assert 'data-testid="order-stored">−CN¥50.00<' in page
    assert 'data-testid="order-cash">CN¥238.00<' in page
    held = balances(sessions, tenant, shop.member_id)
    before = counts(sessions, tenant)

    preview = post(client, f"/till/orders/{order_id}/refund/preview", {"qty-2": "1"})
    assert preview.status_code == 200
    text = preview.text
    # The cup paid 43.50 (45.00 less its share of the coupon); of it 7.47 goes back to the
    # stored value and 44 points (worth 0.44) to the points: 35.59 in cash.
    assert 'data-testid="cash-back">CN¥35.59<' in text
    assert "Give back 44 points the member paid with (worth CN¥0.44)" in text
    assert "Return CN¥7.47 to the member's stored value" in text
    assert "Coupon Ten off stays used (only a refund of the whole order gives it back)" in text
    taken = re.search(r"Take back (\d+) points these items earned", text)
    with sessions() as s:
        earned = s.scalars(select(OrderPayment).where(OrderPayment.order_id == order_id)).one()
    assert taken and int(taken.group(1)) == earned.line_earnings["2"][0]
    assert counts(sessions, tenant) == before and balances(sessions, tenant, shop.member_id) == held

    key = KEY.search(text)
    assert key
    form = {"qty-2": "1", "reason": "", "key": key.group(1), "expected_cash": "3559"}
    first = post(client, f"/till/orders/{order_id}/refund", form)
    again = post(client, f"/till/orders/{order_id}/refund", form)
    back = f"/till/orders/{order_id}#refund"
    assert first.headers["location"] == again.headers["location"] == back
    after = counts(sessions, tenant)
    assert after["refunds"] == before["refunds"] + 1 and after["entries"] == before["entries"] + 1
    now = balances(sessions, tenant, shop.member_id)
    assert now["stored_principal"] == held["stored_principal"] + 747
    assert now["spendable"] == held["spendable"] + 44
    with sessions() as s:
        refund = s.scalars(select(Refund).where(Refund.order_id == order_id)).one()
        order = s.get(Order, order_id)
    assert (refund.amount_minor, refund.external_id) == (4350, f"till-{key.group(1)}")
    assert order is not None and order.status == "partially_refunded"
    shown = client.get(f"/till/orders/{order_id}").text
    assert "This refund was already recorded." in shown  # the second tap's notice
    assert "1 refunded" in shown and "Refund CN¥43.50" in shown


def test_refund_flash_names_the_cash_and_refusals_change_nothing(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    shop = seed_shop(sessions, clock, tenant)
    order_id = _sold(sessions, tenant, shop)
    _clerk(client, sessions, tenant)
    before = counts(sessions, tenant)
    url = f"/till/orders/{order_id}"
    for form, notice in (
        ({}, "Choose at least one item to refund."),
        ({"qty-1": "two"}, "Enter whole numbers of items to refund."),
        ({"qty-1": "3"}, "Not refunded: That is more than is left to refund on this line."),
    ):
        r = post(client, f"{url}/refund/preview", form)
        assert r.headers["location"] == f"{url}#refund"
        assert notice in client.get(url).text
    # A refund whose cash is no longer the one shown is not recorded.
    stale = {"qty-1": "1", "key": "k" * 24, "expected_cash": "1"}
    post(client, f"{url}/refund", stale)
    assert "The refund has changed: check it again." in client.get(url).text
    assert counts(sessions, tenant) == before
    done = post(client, f"{url}/refund", {**stale, "expected_cash": "10122"})
    assert done.status_code == 303
    assert "Refund recorded. Hand back CN¥101.22." in client.get(url).text


def test_top_up_shows_the_bonus_before_the_member_pays_and_is_recorded_once(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    shop = seed_shop(sessions, clock, tenant)
    _clerk(client, sessions, tenant)
    post(client, "/till/member", {"find": "0001"})
    url = f"/till/members/{shop.member_id}/top-up"
    page = client.get(url).text
    assert "Top up CN¥100.00, get CN¥20.00" in page and "Top up CN¥500.00, get CN¥150.00" in page
    assert "Enter an amount, like 12.50." in client.get(f"{url}?amount=lots").text
    assert "That amount is too large." in client.get(f"{url}?amount=999999999999").text
    text = client.get(f"{url}?amount=500").text
    assert 'data-testid="top-up-pays">CN¥500.00<' in text
    assert 'data-testid="top-up-bonus">+CN¥150.00<' in text
    assert 'data-testid="top-up-after">CN¥770.00<' in text  # 120.00 + 500.00 + 150.00
    key = KEY.search(text)
    assert key
    before = counts(sessions, tenant)
    form = {"amount_minor": "50000", "expected_bonus": "150", "key": key.group(1)}
    assert post(client, url, form).headers["location"] == f"{url}?amount=500.00"  # bonus shown
    assert "The bonus has changed: check it again." in client.get(url).text
    assert counts(sessions, tenant) == before
    form["expected_bonus"] = "15000"
    first = post(client, url, form)
    again = post(client, url, form)
    assert first.headers["location"] == again.headers["location"] == "/till#member"
    till = client.get("/till").text
    assert "This top-up was already recorded." in till
    assert 'data-testid="till-stored">CN¥770.00<' in till
    after = counts(sessions, tenant)
    assert after["top_ups"] == before["top_ups"] + 1 and after["entries"] == before["entries"] + 1
    with sessions() as s:
        row = s.scalars(select(TopUp).where(TopUp.idempotency_key == f"till-{key.group(1)}")).one()
    assert (row.principal_minor, row.bonus_minor) == (50000, 15000)
    held = balances(sessions, tenant, shop.member_id)
    assert (held["stored_principal"], held["stored_bonus"]) == (60000, 17000)


def test_member_page_explains_an_order_total(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    """Issue 10: lines adding to 442.32 and a total of 412.32, with nothing to say why."""
    member_id = seed_member(sessions, tenant, order_ref=None)
    with transaction(sessions) as s:
        create_order(
            s,
            tenant.merchant_id,
            OrderCreate(
                external_id="W-442",
                member_id=member_id,
                discount_minor=3000,
                lines=[
                    OrderLineIn(name="Tea", quantity=2, unit_price_minor=17800),
                    OrderLineIn(
                        name="Cake", quantity=1, unit_price_minor=9632, discount_minor=1000
                    ),
                ],
            ),
        )
        lines = s.scalars(select(OrderLine).order_by(OrderLine.line_no)).all()
        assert sum(ln.total_minor for ln in lines) == 44232
    sign_in(client, tenant)
    text = client.get(f"/members/{member_id}").text
    assert 'data-testid="order-subtotal">CN¥442.32<' in text
    assert "Items at full price" in text and "Discounts on items" in text
    assert 'data-testid="order-coupon">−CN¥30.00<' in text
    assert 'data-testid="order-total-goods">CN¥412.32<' in text


def test_till_pages_hide_another_merchants_data(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    shop = seed_shop(sessions, clock, other_tenant)
    order_id = _sold(sessions, other_tenant, shop)
    before = counts(sessions, other_tenant)
    _clerk(client, sessions, tenant)
    assert client.get(f"/till/orders/{order_id}").status_code == 404
    assert client.get("/till/receipt/test-sale-key-0001").status_code == 404
    assert client.get(f"/till/members/{shop.member_id}/top-up").status_code == 404
    assert client.get("/till/orders?ref=T-TEST-0001", follow_redirects=False).headers[
        "location"
    ] == ("/till#orders")
    for path, form in (
        (f"/till/orders/{order_id}/refund/preview", {"qty-1": "1"}),
        (f"/till/orders/{order_id}/refund", {"qty-1": "1", "key": "k" * 24, "expected_cash": "0"}),
        (
            f"/till/members/{shop.member_id}/top-up",
            {"amount_minor": "100", "expected_bonus": "0", "key": "k" * 24},
        ),
        ("/till/member", {"member_id": str(shop.member_id)}),
        ("/till/store", {"store_id": str(other_tenant.store_id)}),
    ):
        assert post(client, path, form).status_code == 404, path
    assert counts(sessions, other_tenant) == before
    # The owner of the other shop reads their own receipt.
    owner = TestClient(client.app)
    sign_in(owner, other_tenant)
    assert owner.get("/till/receipt/test-sale-key-0001").status_code == 200


def test_till_needs_a_signed_in_staff_member_and_a_csrf_token(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    shop = seed_shop(sessions, clock, tenant)
    order_id = _sold(sessions, tenant, shop)
    gets = [
        "/till",
        "/till/orders?ref=T-TEST-0001",
        f"/till/orders/{order_id}",
        "/till/receipt/test-sale-key-0001",
        f"/till/members/{shop.member_id}/top-up",
    ]
    for path in gets:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    posts = [
        "/till/member",
        "/till/store",
        "/till/cart/items",
        "/till/cart/coupons",
        "/till/cart/payments",
        "/till/cart/clear",
        "/till/charge",
        f"/till/orders/{order_id}/refund/preview",
        f"/till/orders/{order_id}/refund",
        f"/till/members/{shop.member_id}/top-up",
    ]
    token = csrf_of(client.get("/login"))
    before = counts(sessions, tenant)
    for path in posts:
        r = client.post(path, data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    _clerk(client, sessions, tenant)
    for path in posts:  # signed in, but without the token: refused before the page
        assert client.post(path, data={}, follow_redirects=False).status_code == 403, path
    for path in gets:  # and every page is a clerk's
        assert client.get(path).status_code == 200, path
    assert counts(sessions, tenant) == before
