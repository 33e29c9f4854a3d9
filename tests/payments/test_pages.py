"""The portal's top-up pages and the dashboard's payments and payment settings: the flow,
write-only secrets, roles and tenancy."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.payments import service
from patron.payments.models import PaymentSetting
from patron.portal import service as portal
from tests.conftest import Tenant, make_tenant
from tests.payments.conftest import Shop, make_member
from tests.payments.test_payments import held
from tests.web.helpers import add_staff, csrf_of, sign_in, sign_in_as


def portal_sign_in(
    client: TestClient,
    sessions: sessionmaker[Session],
    merchant_id: int,
    member_id: int,
    settings: Settings,
) -> None:
    with transaction(sessions) as s:
        issued = portal.create_portal_link(s, merchant_id, member_id, settings=settings)
    path = issued.url.removeprefix(settings.base_url)
    page = client.get(path)
    r = client.post(path, data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303


def test_member_tops_up_sees_the_bonus_pays_and_asks_for_a_refund(
    client: TestClient, sessions: sessionmaker[Session], shop: Shop, settings: Settings
) -> None:
    portal_sign_in(client, sessions, shop.tenant.merchant_id, shop.member_id, settings)
    page = client.get("/portal/top-up")
    assert page.status_code == 200
    assert "WeChat Pay" in page.text and "Alipay" in page.text
    assert "CN¥100.00, CN¥20.00 bonus" in page.text
    confirm = client.get("/portal/top-up/confirm?amount=100.00&custom=&provider=wechat_pay")
    assert confirm.status_code == 200
    assert re.search(r'data-testid="pay-bonus">CN¥20.00<', confirm.text)
    # A custom amount wins over the chosen level.
    custom = client.get("/portal/top-up/confirm?amount=100.00&custom=600&provider=alipay")
    assert re.search(r'data-testid="pay-amount">CN¥600.00<', custom.text)
    assert re.search(r'data-testid="pay-bonus">CN¥150.00<', custom.text)
    r = client.post(
        "/portal/top-up",
        data={"amount_minor": "10000", "provider": "wechat_pay", "csrf_token": csrf_of(confirm)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    location = r.headers["location"]
    order_id = int(location.rsplit("/", 1)[1])
    waiting = client.get(location)
    assert 'data-status="pending"' in waiting.text and "<svg" in waiting.text
    with transaction(sessions) as s:
        out_trade_no = service.member_order(
            s, shop.tenant.merchant_id, shop.member_id, order_id
        ).out_trade_no
    shop.fakes["wechat_pay"].pay(out_trade_no, notify=2)
    done = client.get(location)
    assert 'data-status="paid"' in done.text
    assert "CN¥120.00" in done.text  # the balance, bonus included
    assert held(sessions, shop) == (10000, 2000)
    r = client.post(
        f"{location}/refund", data={"csrf_token": csrf_of(done)}, follow_redirects=False
    )
    assert r.status_code == 303
    after = client.get(location)
    assert 'data-status="refunded"' in after.text
    assert re.search(r'data-testid="refund-amount">CN¥100.00<', after.text)
    assert held(sessions, shop) == (0, 0)
    history = client.get("/portal/top-up")
    assert history.text.count('data-status="refunded"') == 1


def test_bad_amounts_and_providers_change_nothing(
    client: TestClient, sessions: sessionmaker[Session], shop: Shop, settings: Settings
) -> None:
    portal_sign_in(client, sessions, shop.tenant.merchant_id, shop.member_id, settings)
    for query in (
        "amount=abc&provider=alipay",
        "amount=1.234&provider=alipay",
        "amount=-5&provider=alipay",
        "amount=10&provider=paypal",
    ):
        r = client.get(f"/portal/top-up/confirm?{query}", follow_redirects=False)
        assert r.status_code == 303, query
    page = client.get("/portal/top-up")
    r = client.post(
        "/portal/top-up",
        data={"amount_minor": "100", "provider": "paypal", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "not available" in client.get("/portal/top-up").text
    with transaction(sessions) as s:
        assert service.member_orders(s, shop.tenant.merchant_id, shop.member_id) == []


def test_another_members_payment_is_not_found(
    client: TestClient, sessions: sessionmaker[Session], shop: Shop, settings: Settings
) -> None:
    order_id = service.start_payment(
        sessions,
        shop.tenant.merchant_id,
        shop.member_id,
        "alipay",
        10000,
        base_url=settings.base_url,
        description="x",
    )
    other = make_member(sessions, shop.tenant.merchant_id, "+8613800138009")
    portal_sign_in(client, sessions, shop.tenant.merchant_id, other, settings)
    assert client.get(f"/portal/top-up/{order_id}").status_code == 404
    page = client.get("/portal/top-up")
    for action in ("check", "refund"):
        r = client.post(
            f"/portal/top-up/{order_id}/{action}",
            data={"csrf_token": csrf_of(page)},
            follow_redirects=False,
        )
        assert r.status_code == 404
    # A member of another merchant neither.
    bravo = make_tenant(sessions, "bravo")
    stranger = make_member(sessions, bravo.merchant_id, "+8613800138010")
    portal_sign_in(client, sessions, bravo.merchant_id, stranger, settings)
    assert client.get(f"/portal/top-up/{order_id}").status_code == 404


def test_settings_page_keeps_secrets_write_only(
    client: TestClient, sessions: sessionmaker[Session], shop: Shop
) -> None:
    sign_in(client, shop.tenant)
    page = client.get("/payment-settings")
    assert page.status_code == 200
    url, creds = shop.fakes["wechat_pay"].settings()
    assert creds["api_v3_key"] not in page.text
    assert "BEGIN PRIVATE KEY" not in page.text
    assert 'data-secret="private_key"' in page.text
    assert "/api/v1/payments/notify/wechat_pay/" in page.text
    r = client.post(
        "/payment-settings/wechat_pay",
        data={
            "csrf_token": csrf_of(page),
            "enabled": "on",
            "base_url": url,
            "cred_mchid": "1900000999",
            "cred_appid": creds["appid"],
            "cred_serial_no": creds["serial_no"],
            "cred_private_key": "",
            "cred_api_v3_key": "",
            "cred_platform_public_key": creds["platform_public_key"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with transaction(sessions) as s:
        row = (
            s.query(PaymentSetting)
            .filter_by(merchant_id=shop.tenant.merchant_id, provider="wechat_pay")
            .one()
        )
        assert row.credentials["mchid"] == "1900000999"
        assert row.credentials["private_key"] == creds["private_key"]  # blank kept it
        assert row.credentials["api_v3_key"] == creds["api_v3_key"]
        assert row.credentials["timeout_seconds"] == 2  # not on the form: kept


def test_roles_clerks_see_payments_managers_set_them_up(
    client: TestClient, sessions: sessionmaker[Session], shop: Shop, settings: Settings
) -> None:
    service.start_payment(
        sessions,
        shop.tenant.merchant_id,
        shop.member_id,
        "alipay",
        10000,
        base_url=settings.base_url,
        description="x",
    )
    email, password = add_staff(sessions, shop.tenant, "clerk")
    sign_in_as(client, email, password)
    listing = client.get("/payments")
    assert listing.status_code == 200 and 'data-status="pending"' in listing.text
    member_page = client.get(f"/members/{shop.member_id}")
    assert 'id="payments"' in member_page.text
    assert client.get("/payment-settings", follow_redirects=False).status_code == 403
    r = client.post(
        "/payment-settings/alipay",
        data={"csrf_token": csrf_of(listing), "enabled": "on"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    with transaction(sessions) as s:
        assert "alipay" in service.usable_providers(s, shop.tenant.merchant_id)


def test_another_merchants_staff_see_none_of_it(
    client: TestClient,
    sessions: sessionmaker[Session],
    shop: Shop,
    settings: Settings,
    other_tenant: Tenant,
) -> None:
    service.start_payment(
        sessions,
        shop.tenant.merchant_id,
        shop.member_id,
        "alipay",
        10000,
        base_url=settings.base_url,
        description="x",
    )
    sign_in(client, other_tenant)
    listing = client.get("/payments")
    assert listing.status_code == 200 and "data-status" not in listing.text
    page = client.get("/payment-settings")
    assert "set</span>" not in page.text  # B has set up nothing
