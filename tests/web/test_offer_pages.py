"""Coupon, points mall and gift-with-purchase pages on SQLite and PostgreSQL: forms read back
through the API, refusals that change nothing, issuing, voiding, mall fulfilment, roles, CSRF."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.coupons import mall
from patron.coupons import service as coupons
from patron.coupons.models import CouponCode, CouponTemplate, GiftRule, MallItem, MallOrder
from patron.coupons.schemas import MallItemIn, TemplateIn
from patron.engagement.segments import service as segments
from patron.ledger import queries
from patron.ledger.service import EntryInfo, earn_points
from patron.orders.models import Order
from tests.conftest import Tenant
from tests.web.helpers import add_staff, csrf_of, seed_member, sign_in, sign_in_as

COUPON_FORM = {
    "name": "Autumn 15% off",
    "description": "Coats and scarves",
    "kind": "percent_off",
    "amount_off_minor": "",
    "percent_off": "15",
    "max_discount_minor": "50.00",
    "gift_sku": "",
    "gift_name": "",
    "min_spend_minor": "299.00",
    "categories": "Coats, Accessories",
    "skus": "",
    "valid_from": "",
    "valid_to": "2026-12-31T23:59",
    "valid_days": "30",
    "per_member_limit": "1",
    "total_limit": "500",
    "stackable": "on",
    "with_member_discounts": "on",
    "auto_issue_on": "welcome",
    "tier_codes": "",
}


def _template(sessions: sessionmaker[Session], tenant: Tenant, **kw: Any) -> int:
    data = {"name": "¥20 off", "kind": "amount_off", "amount_off_minor": 2000} | kw
    with transaction(sessions) as s:
        return coupons.create_template(s, tenant.merchant_id, TemplateIn(**data)).id


def _count(sessions: sessionmaker[Session], model: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _codes(sessions: sessionmaker[Session], template_id: int) -> list[tuple[int | None, str]]:
    with sessions() as s:
        rows = s.execute(
            select(CouponCode.member_id, CouponCode.status)
            .where(CouponCode.template_id == template_id)
            .order_by(CouponCode.member_id)
        )
        return [(m, st) for m, st in rows]


def _issued_count(sessions: sessionmaker[Session], template_id: int) -> int:
    with sessions() as s:
        template = s.get(CouponTemplate, template_id)
        assert template is not None
        return template.issued_count


def test_coupon_template_form_creates_and_edits(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, tenant)
    page = client.get("/coupons/new")
    assert page.status_code == 200 and 'name="percent_off"' in page.text
    form = COUPON_FORM | {"store_ids": str(tenant.store_id), "csrf_token": csrf_of(page)}
    r = client.post("/coupons/new", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    template_id = int(r.headers["location"].rsplit("/", 1)[1])
    got = client.get(f"/api/v1/coupon-templates/{template_id}", headers=tenant.headers).json()
    assert {k: got[k] for k in COUPON_FORM if k not in {"valid_to", "stackable"}} == {
        "name": "Autumn 15% off",
        "description": "Coats and scarves",
        "kind": "percent_off",
        "amount_off_minor": None,
        "percent_off": 15,
        "max_discount_minor": 5000,
        "gift_sku": None,
        "gift_name": None,
        "min_spend_minor": 29900,
        "categories": ["Coats", "Accessories"],
        "skus": [],
        "valid_from": None,
        "valid_days": 30,
        "per_member_limit": 1,
        "total_limit": 500,
        "with_member_discounts": True,
        "auto_issue_on": ["welcome"],
        "tier_codes": [],
    }
    # 23:59 in Shanghai is 15:59 UTC.
    assert got["valid_to"] in {"2026-12-31T15:59:00Z", "2026-12-31T15:59:00+00:00"}
    assert got["stackable"] is True and got["store_ids"] == [tenant.store_id]
    listing = client.get("/coupons")
    assert "Autumn 15% off" in listing.text and "15% off" in listing.text

    # Edit: only what TemplatePatch allows is an input; the discount is shown, fixed.
    page = client.get(f"/coupons/{template_id}/edit")
    assert 'name="percent_off"' not in page.text and 'name="total_limit" value="500"' in page.text
    assert 'value="2026-12-31T23:59"' in page.text
    edit = {
        "csrf_token": csrf_of(page),
        "name": "Autumn 15% off (coats)",
        "description": "",
        "valid_to": "",
        "per_member_limit": "2",
        "total_limit": "",
        "percent_off": "90",  # not an input on this form: ignored
    }
    r = client.post(f"/coupons/{template_id}/edit", data=edit, follow_redirects=False)
    assert r.status_code == 303, r.text
    got = client.get(f"/api/v1/coupon-templates/{template_id}", headers=tenant.headers).json()
    assert (got["name"], got["description"], got["valid_to"]) == (
        "Autumn 15% off (coats)",
        None,
        None,
    )
    assert (got["per_member_limit"], got["total_limit"], got["percent_off"]) == (2, None, 15)
    assert got["auto_issue_on"] == []  # no box ticked: automatic issue off


def test_bad_coupon_forms_show_the_error_and_write_nothing(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, tenant)
    page = client.get("/coupons/new")
    token = csrf_of(page)
    r = client.post("/coupons/new", data=COUPON_FORM | {"percent_off": "", "csrf_token": token})
    assert r.status_code == 422
    assert "A percentage coupon needs the percent off." in r.text
    assert 'name="name" value="Autumn 15% off"' in r.text  # what was typed is kept
    r = client.post(
        "/coupons/new", data=COUPON_FORM | {"min_spend_minor": "abc", "csrf_token": token}
    )
    assert r.status_code == 422 and "Enter an amount, like 12.50." in r.text
    r = client.post("/coupons/new", data=COUPON_FORM | {"percent_off": "150", "csrf_token": token})
    assert r.status_code == 422 and "Must be at most 100." in r.text
    r = client.post("/coupons/new", data=COUPON_FORM | {"name": "", "csrf_token": token})
    assert r.status_code == 422 and "This is needed." in r.text
    assert _count(sessions, CouponTemplate) == 0

    # The service refuses a total limit below what is already issued: nothing changes.
    template_id = _template(sessions, tenant, total_limit=5)
    member_id = seed_member(sessions, tenant, order_ref=None)
    with transaction(sessions) as s:
        coupons.issue_code(s, tenant.merchant_id, template_id, member_id)
        coupons.issue_code(s, tenant.merchant_id, template_id, member_id)
    page = client.get(f"/coupons/{template_id}/edit")
    r = client.post(
        f"/coupons/{template_id}/edit",
        data={"csrf_token": csrf_of(page), "name": "Renamed", "total_limit": "1"},
    )
    assert r.status_code == 422
    assert "More coupons are already issued than this limit." in r.text
    with sessions() as s:
        t = s.get(CouponTemplate, template_id)
        assert t is not None and (t.name, t.total_limit, t.issued_count) == ("¥20 off", 5, 2)
    # An emptied name is asked for again (it cannot be empty), not a server error.
    r = client.post(
        f"/coupons/{template_id}/edit",
        data={"csrf_token": csrf_of(page), "name": "", "total_limit": "5"},
    )
    assert r.status_code == 422 and "This is needed." in r.text
    with sessions() as s:
        t = s.get(CouponTemplate, template_id)
        assert t is not None and t.name == "¥20 off"


def test_issue_one_bulk_segment_and_void(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    mei = seed_member(sessions, tenant, tags=["vip"])
    tom = seed_member(
        sessions, tenant, first="Tom", last="Ng", phone="+8613900139000", email=None, order_ref=None
    )
    ann = seed_member(
        sessions, tenant, first="Ann", last="Li", phone="+8613700137000", email=None, order_ref=None
    )
    template_id = _template(sessions, tenant, per_member_limit=1, total_limit=10)
    sign_in(client, tenant)
    page = client.get(f"/coupons/{template_id}")
    token = csrf_of(page)

    r = client.post(
        f"/coupons/{template_id}/issue", data={"who": "+8613900139000", "csrf_token": token}
    )
    assert r.status_code == 200 and "issued to Tom Ng." in r.text
    assert _codes(sessions, template_id) == [(tom, "issued")]

    # Tom is at his limit: refused, and the issue count taken before the check is rolled back.
    r = client.post(f"/coupons/{template_id}/issue", data={"who": str(tom), "csrf_token": token})
    assert "This member already holds as many of this coupon as allowed." in r.text
    assert _issued_count(sessions, template_id) == 1
    r = client.post(f"/coupons/{template_id}/issue", data={"who": "nobody", "csrf_token": token})
    assert "No member matches “nobody”." in r.text

    # A list: Tom is skipped (limit), 999999 is unknown.
    r = client.post(
        f"/coupons/{template_id}/issue-bulk",
        data={"member_ids": f"{ann}, {tom}\n999999", "csrf_token": token},
    )
    assert "1 coupons issued; 2 members skipped" in r.text
    r = client.post(
        f"/coupons/{template_id}/issue-bulk", data={"member_ids": "12, abc", "csrf_token": token}
    )
    assert "Choose a segment, or list member ids." in r.text
    with transaction(sessions) as s:
        segment = segments.create_segment(
            s, tenant.merchant_id, "VIPs", {"field": "tag", "op": "has", "value": "vip"}
        )
    r = client.post(
        f"/coupons/{template_id}/issue-bulk",
        data={"segment_id": str(segment.id), "csrf_token": token},
    )
    assert "1 coupons issued; 0 members skipped" in r.text
    assert _codes(sessions, template_id) == [(mei, "issued"), (tom, "issued"), (ann, "issued")]
    assert _issued_count(sessions, template_id) == 3

    # Void Ann's coupon; a second void is refused and changes nothing.
    with sessions() as s:
        code = s.scalars(select(CouponCode).where(CouponCode.member_id == ann)).one()
    r = client.post(
        f"/coupons/{template_id}/codes/{code.id}/void",
        data={"reason": "issued by mistake", "csrf_token": token},
    )
    assert f"Coupon {code.code} voided." in r.text
    r = client.post(
        f"/coupons/{template_id}/codes/{code.id}/void",
        data={"reason": "again", "csrf_token": token},
    )
    assert "Only a coupon that is ready to use can be voided." in r.text
    with sessions() as s:
        voided = s.get(CouponCode, code.id)
        assert voided is not None and (voided.status, voided.void_reason) == (
            "voided",
            "issued by mistake",
        )
    page = client.get(f"/coupons/{template_id}?status=voided")
    assert code.code in page.text and "issued by mistake" in page.text
    # Mei uses hers on her order: the list counts it as redeemed.
    with transaction(sessions) as s:
        mine = s.scalars(select(CouponCode).where(CouponCode.member_id == mei)).one()
        order_id = s.scalars(select(Order.id).where(Order.member_id == mei)).one()
        coupons.redeem_code(s, tenant.merchant_id, mine.id, order_id, utcnow(s))
    listing = client.get("/coupons")
    assert '<td class="num issued">3<span class="muted"> / 10</span></td>' in listing.text
    assert '<td class="num redeemed">1</td>' in listing.text

    # Archived: issuing is refused, nothing issued.
    r = client.post(f"/coupons/{template_id}/archive", data={"csrf_token": token})
    assert "Coupon archived." in r.text
    r = client.post(f"/coupons/{template_id}/issue", data={"who": str(ann), "csrf_token": token})
    assert "This coupon is archived." in r.text
    assert _issued_count(sessions, template_id) == 3
    assert "¥20 off" not in client.get("/coupons").text
    assert "¥20 off" in client.get("/coupons?archived=true").text


def _points(sessions: sessionmaker[Session], tenant: Tenant, member_id: int) -> int:
    with sessions() as s:
        return queries.member_balances(s, tenant.merchant_id, member_id).balances.get("points", 0)


def test_mall_items_and_order_fulfilment(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    with transaction(sessions) as s:
        earn_points(s, tenant.merchant_id, member_id, 2000, EntryInfo("goodwill", "Hi", "test"))
    sign_in(client, tenant)
    page = client.get("/mall/items/new")
    token = csrf_of(page)
    item_form = {
        "kind": "gift",
        "name": "Celadon cup",
        "description": "",
        "sku": "CUP-1",
        "template_id": "",
        "points_price": "500",
        "stock": "3",
        "per_member_limit": "2",
        "active_from": "",
        "active_to": "",
    }
    r = client.post(
        "/mall/items/new", data=item_form | {"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    (item,) = client.get("/api/v1/mall/items", headers=tenant.headers).json()["items"]
    assert {k: item[k] for k in ("kind", "name", "sku", "points_price", "stock")} == {
        "kind": "gift",
        "name": "Celadon cup",
        "sku": "CUP-1",
        "points_price": 500,
        "stock": 3,
    }
    assert (item["per_member_limit"], item["template_id"], item["status"]) == (2, None, "active")
    # A voucher without its coupon, and a bad price: errors, nothing written.
    bad = item_form | {"kind": "voucher", "csrf_token": token}
    r = client.post("/mall/items/new", data=bad)
    assert r.status_code == 422 and "A voucher needs the coupon it issues." in r.text
    r = client.post("/mall/items/new", data=item_form | {"points_price": "0", "csrf_token": token})
    assert r.status_code == 422 and "Must be at least 1." in r.text
    assert _count(sessions, MallItem) == 1
    # Restock and reprice.
    page = client.get(f"/mall/items/{item['id']}/edit")
    assert 'name="kind"' not in page.text and 'name="stock" value="3"' in page.text
    r = client.post(
        f"/mall/items/{item['id']}/edit",
        data={"csrf_token": token, "name": "Celadon cup", "points_price": "400", "stock": "10"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with sessions() as s:
        stored = s.get(MallItem, item["id"])
        assert stored is not None and (stored.points_price, stored.stock) == (400, 10)

    with transaction(sessions) as s:
        first, _ = mall.redeem(s, tenant.merchant_id, member_id, item["id"], 1, "k1", "test")
        second, _ = mall.redeem(s, tenant.merchant_id, member_id, item["id"], 1, "k2", "test")
        first_id, second_id = first.id, second.id
    assert _points(sessions, tenant, member_id) == 1200
    orders = client.get("/mall/orders?status=pending")
    assert orders.status_code == 200 and "Mei Chen" in orders.text
    assert 'value="ready"' in orders.text and 'value="collected"' not in orders.text
    for status in ("ready", "collected"):
        r = client.post(f"/mall/orders/{first_id}", data={"status": status, "csrf_token": token})
        assert r.status_code == 200
    assert f"Order {first_id} is collected." in r.text
    # Collected is final: a cancel is refused and nothing changes.
    r = client.post(f"/mall/orders/{first_id}", data={"status": "cancelled", "csrf_token": token})
    assert "The order cannot move to that state." in r.text
    r = client.post(
        f"/mall/orders/{second_id}",
        data={"status": "cancelled", "note": "changed her mind", "csrf_token": token},
    )
    assert f"Order {second_id} is cancelled" in r.text
    with sessions() as s:
        a, b = s.get(MallOrder, first_id), s.get(MallOrder, second_id)
        assert a is not None and b is not None
        assert (a.status, b.status, b.note) == ("collected", "cancelled", "changed her mind")
        stored = s.get(MallItem, item["id"])
        assert stored is not None and stored.stock == 9
    assert _points(sessions, tenant, member_id) == 1600
    assert "changed her mind" in client.get("/mall/orders?status=cancelled").text
    r = client.post(f"/mall/items/{item['id']}/archive", data={"csrf_token": token})
    assert "Item taken off the mall." in r.text
    with sessions() as s:
        stored = s.get(MallItem, item["id"])
        assert stored is not None and stored.status == "archived"


def test_gift_rules_pages(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, tenant)
    page = client.get("/gifts/new")
    token = csrf_of(page)
    rule_form = {
        "name": "Spend 500, get a tote",
        "min_spend_minor": "500.00",
        "categories": "Coats",
        "buy_sku": "",
        "gift_sku": "TOTE",
        "gift_name": "Canvas tote",
        "gift_quantity": "1",
        "stock": "100",
        "active_from": "",
        "active_to": "",
    }
    # Both a spend and a product: refused, nothing written.
    r = client.post("/gifts/new", data=rule_form | {"buy_sku": "SCARF", "csrf_token": token})
    assert r.status_code == 422
    assert "Fill in either a minimum spend or a product to buy, not both." in r.text
    assert _count(sessions, GiftRule) == 0
    r = client.post("/gifts/new", data=rule_form | {"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    (rule,) = client.get("/api/v1/gift-rules", headers=tenant.headers).json()["items"]
    assert {k: rule[k] for k in rule_form} == {
        "name": "Spend 500, get a tote",
        "min_spend_minor": 50000,
        "categories": ["Coats"],
        "buy_sku": None,
        "gift_sku": "TOTE",
        "gift_name": "Canvas tote",
        "gift_quantity": 1,
        "stock": 100,
        "active_from": None,
        "active_to": None,
    }
    page = client.get(f"/gifts/{rule['id']}/edit")
    assert 'name="gift_sku"' not in page.text and "Canvas tote" in page.text
    r = client.post(
        f"/gifts/{rule['id']}/edit",
        data={"csrf_token": token, "name": "Tote", "stock": "-1", "active_to": ""},
    )
    assert r.status_code == 422 and "Must be at least 0." in r.text
    r = client.post(
        f"/gifts/{rule['id']}/edit",
        data={"csrf_token": token, "name": "Tote", "stock": "40", "active_to": "2027-01-31T00:00"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(f"/gifts/{rule['id']}/deactivate", data={"csrf_token": token})
    assert "Rule switched off." in r.text
    got = client.get(f"/api/v1/gift-rules/{rule['id']}", headers=tenant.headers).json()
    assert (got["name"], got["stock"], got["status"]) == ("Tote", 40, "archived")
    assert got["active_to"] in {"2027-01-30T16:00:00Z", "2027-01-30T16:00:00+00:00"}


def test_roles_csrf_and_other_merchants(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    template_id = _template(sessions, tenant)
    member_id = seed_member(sessions, tenant, order_ref=None)
    with transaction(sessions) as s:
        earn_points(s, tenant.merchant_id, member_id, 100, EntryInfo("goodwill", "Hi", "test"))
        item = mall.create_item(
            s, tenant.merchant_id, MallItemIn(kind="gift", name="Pin", points_price=10)
        )
        order, _ = mall.redeem(s, tenant.merchant_id, member_id, item.id, 1, "k", "test")
        order_id = order.id
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    listing = client.get("/coupons")
    assert listing.status_code == 200 and "¥20 off" in listing.text
    assert 'href="/coupons/new"' not in listing.text
    assert 'href="/coupons"' in listing.text and 'href="/mall"' in listing.text
    assert client.get("/coupons/new").status_code == 403
    assert client.get("/gifts/new").status_code == 403
    token = csrf_of(listing)
    r = client.post(
        f"/coupons/{template_id}/issue", data={"who": str(member_id), "csrf_token": token}
    )
    assert r.status_code == 403
    assert _codes(sessions, template_id) == []
    # Clerks hand mall gifts over (as the API allows).
    r = client.post(
        f"/mall/orders/{order_id}",
        data={"status": "ready", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303

    manager = TestClient(client.app)
    email, password = add_staff(sessions, tenant, "manager")
    sign_in_as(manager, email, password)
    form = COUPON_FORM | {"store_ids": str(tenant.store_id)}
    assert manager.post("/coupons/new", data=form).status_code == 403  # no CSRF token
    r = manager.post(f"/coupons/{template_id}/issue", data={"who": str(member_id)})
    assert r.status_code == 403
    assert manager.post("/gifts/new", data={"name": "x"}).status_code == 403
    assert _count(sessions, CouponTemplate) == 1 and _codes(sessions, template_id) == []

    # Merchant B's manager gets 404 for A's template, code, item, order and rule.
    other = TestClient(client.app)
    sign_in(other, other_tenant)
    page = other.get("/coupons")
    token = csrf_of(page)
    assert other.get(f"/coupons/{template_id}").status_code == 404
    assert other.get(f"/coupons/{template_id}/edit").status_code == 404
    r = other.post(
        f"/coupons/{template_id}/issue", data={"who": str(member_id), "csrf_token": token}
    )
    assert r.status_code == 404
    r = other.post(f"/mall/orders/{order_id}", data={"status": "collected", "csrf_token": token})
    assert r.status_code == 404
    assert other.get(f"/mall/items/{item.id}/edit").status_code == 404
    assert _codes(sessions, template_id) == []
    with sessions() as s:
        stored = s.get(MallOrder, order_id)
        assert stored is not None and stored.status == "ready"


def test_pages_in_chinese(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    _template(sessions, tenant)
    sign_in(client, tenant)
    page = client.get("/coupons")
    client.post(
        "/language", data={"locale": "zh_Hans", "next": "/coupons", "csrf_token": csrf_of(page)}
    )
    page = client.get("/coupons")
    assert "优惠券" in page.text and "新建优惠券" in page.text
    page = client.get("/coupons/new")
    r = client.post(
        "/coupons/new", data=COUPON_FORM | {"percent_off": "", "csrf_token": csrf_of(page)}
    )
    assert r.status_code == 422 and "百分比优惠券需要填写折扣百分比。" in r.text
    assert "积分商城" in client.get("/mall").text
    assert "买赠" in client.get("/gifts").text
