"""The till (issue 10, defect 3): a clerk finds the member, builds the cart, sees the quote with
what is on offer, charges exactly once and reads the receipt. On SQLite and PostgreSQL, through
the real app; every figure is checked against the database."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout.members import membership_qr_token
from patron.core.clock import FrozenClock, utcnow
from patron.core.db import transaction
from patron.coupons.models import CouponCode
from patron.ledger.service import EntryInfo, earn_points
from patron.members import service as members
from patron.orders.models import Order
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from patron.programs.models import OrderPayment
from tests.conftest import Tenant
from tests.programs.helpers import add_products, new_member
from tests.web.helpers import add_staff, sign_in_as
from tests.web.till_data import balances, charge_form, counts, post, seed_shop

SECRET = "test-secret-key-0123456789"


def _clerk(client: TestClient, sessions: sessionmaker[Session], tenant: Tenant) -> None:
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)


def _cart(client: TestClient, shop_coupon: str | None = None) -> str:
    """Li Wei (found by the last four digits) buys two teas and a cup; returns the page."""
    assert post(client, "/till/member", {"find": "0001"}).headers["location"] == "/till#member"
    for sku in ("TEA-1", "TEA-1", "CUP-1"):
        assert post(client, "/till/cart/items", {"sku": sku}).status_code == 303
    if shop_coupon:
        post(client, "/till/cart/coupons", {"code": shop_coupon})
    return client.get("/till").text


def test_clerk_sells_with_a_coupon_points_and_stored_value_exactly_once(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    shop = seed_shop(sessions, clock, tenant)
    _clerk(client, sessions, tenant)
    first = client.get("/till")
    assert first.status_code == 200 and "Walk-in customer" in first.text
    assert 'href="/till" aria-current="page"' in first.text  # the menu entry clerks see
    text = _cart(client)
    assert 'data-testid="member-name">Li Wei<' in text
    assert 'data-testid="till-points">300<' in text
    assert 'data-testid="till-stored">CN¥120.00<' in text
    # 2 × 128.00 + 45.00; the member's unused coupon fits and is suggested.
    assert 'data-testid="subtotal">CN¥301.00<' in text
    assert "Unused coupon that fits this sale: Ten off (CN¥10.00 off)" in text
    assert "On offer: up to 300 points (CN¥3.00)" in text
    assert "On offer: up to CN¥120.00" in text
    before = counts(sessions, tenant)

    assert post(client, "/till/cart/coupons", {"code": shop.coupon.lower()}).status_code == 303
    post(client, "/till/cart/payments", {"points": "max"})
    post(client, "/till/cart/payments", {"stored_value": "50"})
    page = client.get("/till").text
    assert "Coupon applied." not in page  # flashes are shown once, on the next page
    assert 'data-testid="total">CN¥291.00<' in page
    assert "Using 300 points: −CN¥3.00" in page and "Using CN¥50.00" in page
    assert 'data-testid="cash-due">CN¥238.00<' in page
    form = charge_form(page)
    assert form["expected_cash"] == "23800"
    assert counts(sessions, tenant) == before  # quoting wrote nothing

    done = post(client, "/till/charge", form)
    again = post(client, "/till/charge", form)  # a double tap, or the form sent again
    assert done.status_code == again.status_code == 303
    receipt_url = done.headers["location"]
    assert again.headers["location"] == receipt_url and receipt_url.startswith("/till/receipt/")
    after = counts(sessions, tenant)
    assert after == {**before, "orders": before["orders"] + 1, "entries": before["entries"] + 1}

    number = re.search(r'"number":"(T-[0-9A-Z-]+)"', form["sale"])
    assert number is not None
    with sessions() as s:
        order = s.scalars(select(Order).where(Order.external_id == number.group(1))).one()
        paid = s.scalars(select(OrderPayment).where(OrderPayment.order_id == order.id)).one()
        code = s.scalars(select(CouponCode).where(CouponCode.code == shop.coupon)).one()
    assert (order.subtotal_minor, order.discount_minor, order.total_minor) == (30100, 1000, 29100)
    assert (paid.points_redeemed, paid.points_value_minor, paid.cash_minor) == (300, 300, 23800)
    assert (paid.stored_principal_minor, paid.stored_bonus_minor) == (5000, 0)
    assert (code.status, code.redeemed_order_id) == ("redeemed", order.id)
    held = balances(sessions, tenant, shop.member_id)
    assert (held["spendable"], held["stored_principal"], held["stored_bonus"]) == (0, 5000, 2000)

    # The answer was lost and the clerk added an item to the same sale: it is not charged as a
    # second sale; the till shows what was charged.
    more = form["sale"].replace('"quantity":1}', '"quantity":2}')
    assert more != form["sale"]
    changed = post(client, "/till/charge", {"sale": more, "expected_cash": "0"})
    assert changed.headers["location"] == receipt_url
    assert counts(sessions, tenant) == after

    receipt = client.get(receipt_url).text
    assert "This sale was already charged: here is its receipt." in receipt
    assert f'data-testid="order-number">{order.external_id}<' in receipt
    assert 'data-testid="receipt-total">CN¥291.00<' in receipt
    assert 'data-testid="receipt-points">−CN¥3.00<' in receipt
    assert 'data-testid="receipt-stored">−CN¥50.00<' in receipt
    assert 'data-testid="receipt-cash">CN¥238.00<' in receipt
    assert f"Points earned: {paid.points_earned}" in receipt
    assert "Ten off" in receipt and shop.coupon in receipt
    # The till is ready for the next customer.
    nxt = client.get("/till").text
    assert "Walk-in customer. Find the member" in nxt and "Add products from the catalogue." in nxt


def test_a_changed_total_or_a_forged_price_is_not_charged(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    seed_shop(sessions, clock, tenant)
    _clerk(client, sessions, tenant)
    form = charge_form(_cart(client))
    before = counts(sessions, tenant)
    stale = post(client, "/till/charge", {**form, "expected_cash": "100"})
    assert stale.headers["location"] == "/till#cart"
    assert "The total has changed: check it and charge again." in client.get("/till").text
    # The form names products, never prices: a price typed into it is ignored.
    forged = form["sale"].replace('"quantity":1}', '"quantity":1,"unit_price_minor":1}')
    assert forged != form["sale"]
    post(client, "/till/charge", {"sale": forged, "expected_cash": "25700"})
    assert "The total has changed" in client.get("/till").text
    post(client, "/till/charge", {"sale": "{not json", "expected_cash": "0"})
    assert "The sale could not be read." in client.get("/till").text
    assert counts(sessions, tenant) == before


def test_refused_taps_change_nothing(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    seed_shop(sessions, clock, tenant)
    with transaction(sessions) as s:
        create_product(
            s, other_tenant.merchant_id, ProductCreate(sku="B-ONLY", name="B", price_minor=1)
        )
    _clerk(client, sessions, tenant)
    post(client, "/till/cart/payments", {"points": "max"})
    assert "Find the member first." in client.get("/till").text
    page = _cart(client)
    form = charge_form(page)
    for sku in ("NOPE", "B-ONLY"):
        post(client, "/till/cart/items", {"sku": sku})
        assert "This product is not in the catalogue." in client.get("/till").text
    post(client, "/till/cart/coupons", {"code": "NO-SUCH"})
    assert "Not applied: No coupon has this code." in client.get("/till").text
    post(client, "/till/cart/payments", {"points": "many"})
    assert "Enter a whole number." in client.get("/till").text
    post(client, "/till/cart/payments", {"points": "5000"})
    assert "Not applied: The member does not have that much." in client.get("/till").text
    post(client, "/till/cart/payments", {"stored_value": "12.345"})
    assert "Enter an amount, like 12.50." in client.get("/till").text
    post(client, "/till/cart/payments", {"stored_value": "200"})
    assert "Not applied: The member does not have that much." in client.get("/till").text
    post(client, "/till/cart/payments", {"stored_value": "500"})
    assert "Stored value cannot pay more than is due." in client.get("/till").text
    # The sale is exactly as it was.
    assert charge_form(client.get("/till").text) == form
    other = new_member(sessions, other_tenant.merchant_id, "+8613900000009")
    assert post(client, "/till/member", {"member_id": str(other)}).status_code == 404
    assert charge_form(client.get("/till").text) == form


def test_the_member_is_found_by_card_code_tag_or_name(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    shop = seed_shop(sessions, clock, tenant)
    new_member(sessions, tenant.merchant_id, "+8613800000002")  # a second Li Wei
    theirs = new_member(sessions, other_tenant.merchant_id, "+8613800000003")
    _clerk(client, sessions, tenant)
    with sessions() as s:
        mine = members.get_member(s, tenant.merchant_id, shop.member_id)
        card = membership_qr_token(mine, SECRET)
        foreign = membership_qr_token(
            members.get_member(s, other_tenant.merchant_id, theirs), SECRET
        )
    assert post(client, "/till/member", {"find": card}).headers["location"] == "/till#member"
    assert 'data-testid="member-name">Li Wei<' in client.get("/till").text
    post(client, "/till/member", {"walk_in": "1"})
    assert "Walk-in customer. Find" in client.get("/till").text
    assert post(client, "/till/member", {"find": "138 0000 0001"}).status_code == 303
    assert f'href="/members/{shop.member_id}" data-testid="member-name"' in client.get("/till").text
    post(client, "/till/member", {"walk_in": "1"})
    assert post(client, "/till/member", {"find": "regular"}).headers["location"] == "/till#member"
    assert f'href="/members/{shop.member_id}" data-testid="member-name"' in client.get("/till").text
    post(client, "/till/member", {"walk_in": "1"})
    # Two members answer to the name: the clerk chooses.
    r = post(client, "/till/member", {"find": "Li"})
    assert r.headers["location"] == "/till?find=Li#member"
    listed = client.get("/till?find=Li").text
    assert listed.count('name="member_id"') == 2 and "Walk-in customer. Find" in listed
    # Another merchant's card finds nobody here.
    post(client, "/till/member", {"find": foreign})
    assert "No member found for" in client.get("/till").text


def test_the_till_prompts_birthday_expiring_points_next_tier_and_coupon(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    # The clock stands on Wednesday 18 March 2026 once the shop is seeded.
    shop = seed_shop(sessions, clock, tenant, birthday=date(1990, 3, 20))
    with transaction(sessions) as s:
        info = EntryInfo("goodwill", "Sorry points", "test")
        earn_points(
            s, tenant.merchant_id, shop.member_id, 200, info, expires_at=utcnow(s) + timedelta(5)
        )
    _clerk(client, sessions, tenant)
    text = _cart(client)
    assert "Birthday this week: Friday, 20 March 2026." in text
    assert "200 points expire within 7 days, the first on 23 Mar 2026" in text
    # 300 growth of the 1,000 Gold needs; this sale (301.00) adds 301.
    assert "700 more growth for Gold. This sale adds 301." in text
    assert "Unused coupon that fits this sale: Ten off" in text
    # Once the coupon is on the sale it is no longer suggested.
    post(client, "/till/cart/coupons", {"code": shop.coupon})
    assert "Unused coupon that fits" not in client.get("/till").text


def test_points_adjustments_stay_with_managers(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    shop = seed_shop(sessions, clock, tenant)
    _clerk(client, sessions, tenant)
    text = _cart(client)
    assert "Only a manager or the owner can adjust points." in text
    form = {
        "key": "k" * 24,
        "asset": "points",
        "direction": "add",
        "amount": "50",
        "reason_code": "goodwill",
        "description": "Sorry for the wait",
        "back": "/till#member",
    }
    before = counts(sessions, tenant)
    assert post(client, f"/members/{shop.member_id}/adjustments", form).status_code == 403
    assert counts(sessions, tenant) == before
    manager = TestClient(client.app)
    email, password = add_staff(sessions, tenant, "manager")
    sign_in_as(manager, email, password)
    text = _cart(manager)
    assert "Only a manager" not in text and 'name="back" value="/till#member"' in text
    r = post(manager, f"/members/{shop.member_id}/adjustments", form)
    assert (r.status_code, r.headers["location"]) == (303, "/till#member")
    assert "Balance adjusted." in manager.get("/till").text
    assert balances(sessions, tenant, shop.member_id)["spendable"] == 350


def test_a_walk_in_customer_pays_the_catalogue_price(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    add_products(sessions, tenant.merchant_id)
    _clerk(client, sessions, tenant)
    post(client, "/till/cart/items", {"sku": "CUP-1"})
    post(client, "/till/cart/items", {"sku": "TEA-1"})
    post(client, "/till/cart/items", {"sku": "CUP-1", "quantity": "3"})
    post(client, "/till/cart/items", {"sku": "TEA-1", "quantity": "0"})  # taken off again
    page = client.get("/till").text
    assert page.count('data-testid="cart-line"') == 1 and 'data-testid="qty">3<' in page
    assert 'data-testid="cash-due">CN¥135.00<' in page and "Points and stored value" not in page
    done = post(client, "/till/charge", charge_form(page))
    receipt = client.get(done.headers["location"]).text
    assert 'data-testid="receipt-cash">CN¥135.00<' in receipt and "Member:" not in receipt
    with sessions() as s:
        order = s.scalars(select(Order).where(Order.merchant_id == tenant.merchant_id)).one()
    assert (order.member_id, order.total_minor) == (None, 13500)
