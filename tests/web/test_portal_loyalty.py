"""The portal's loyalty pages on SQLite and PostgreSQL: card with QR, points, stored value,
coupons wallet and the points mall."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout.members import member_id_from_token
from patron.core.config import Settings
from patron.core.db import transaction
from patron.coupons import mall
from patron.coupons.models import MallOrder
from patron.coupons.schemas import MallItemIn
from patron.ledger import queries
from patron.portal import service as portal
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_loyalty, seed_member


def _portal(
    client: TestClient,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    member_id: int,
    settings: Settings,
) -> None:
    with transaction(sessions) as s:
        issued = portal.create_portal_link(s, tenant.merchant_id, member_id, settings=settings)
    path = issued.url.removeprefix(settings.base_url)
    page = client.get(path)
    r = client.post(path, data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303


def test_portal_home_card_points_and_stored_value(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    _portal(client, sessions, tenant, member_id, settings)
    home = client.get("/portal")
    assert home.status_code == 200
    assert 'data-testid="points">1,234<' in home.text and "CN¥550.00" in home.text
    assert "500 points expire by" in home.text  # the birthday lot, within the 14-day notice
    assert "800 more for Gold" in home.text and '<img src="/portal/card.svg"' in home.text
    card = client.get("/portal/card")
    assert card.status_code == 200
    svg = re.search(r'<div class="qr"[^>]*><svg[^>]*class="segno"', card.text)
    assert svg, "the QR code is drawn inline"
    image = client.get("/portal/card.svg")
    assert image.headers["content-type"].startswith("image/svg+xml")
    # The card names this member, signed with the app's secret.
    from patron.checkout.members import membership_qr_token

    with sessions() as s:
        from patron.members.models import Member

        token = membership_qr_token(s.get(Member, member_id), settings.secret_key)  # type: ignore[arg-type]
    assert member_id_from_token(token, tenant.merchant_id, settings.secret_key) == member_id
    points = client.get("/portal/points")
    assert 'data-testid="points">1,234<' in points.text and "Birthday points" in points.text
    stored = client.get("/portal/stored-value")
    assert 'data-testid="stored">CN¥550.00<' in stored.text and "Top-up" in stored.text
    assert "Birthday points" not in stored.text  # points are not stored value
    coupons = client.get("/portal/coupons")
    assert "Autumn ¥20" in coupons.text and "Ready to use" in coupons.text


def test_portal_mall_redeems_once_per_form(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    with transaction(sessions) as s:
        item = mall.create_item(
            s,
            tenant.merchant_id,
            MallItemIn(kind="gift", name="Celadon cup", points_price=500, stock=3),
        )
        item_id = item.id
        mall.create_item(
            s, tenant.merchant_id, MallItemIn(kind="gift", name="Silk robe", points_price=5000)
        )
    _portal(client, sessions, tenant, member_id, settings)
    page = client.get("/portal/mall")
    assert "Celadon cup" in page.text and "Not enough points" in page.text  # the robe
    pattern = (
        rf'action="/portal/mall/{item_id}/redeem">\s*<input type="hidden" name="csrf_token"'
        r' value="[^"]+">\s*<input type="hidden" name="key" value="([^"]+)"'
    )
    key = re.search(pattern, page.text)
    assert key
    form = {"csrf_token": csrf_of(page), "key": key.group(1)}
    first = client.post(f"/portal/mall/{item_id}/redeem", data=form, follow_redirects=False)
    again = client.post(f"/portal/mall/{item_id}/redeem", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(MallOrder)) == 1
        assert queries.member_balances(s, tenant.merchant_id, member_id).points_spendable == 734
    assert "Redeemed for 500 points." in client.get("/portal/points").text
    assert (
        client.post(f"/portal/mall/{item_id}/redeem", data=form | {"csrf_token": "x"}).status_code
        == 403
    )


def test_portal_pages_in_chinese_and_only_my_data(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    theirs = seed_member(sessions, other_tenant, order_ref=None, first="Tom")
    seed_loyalty(sessions, other_tenant, theirs)
    with transaction(sessions) as s:
        their_item = mall.create_item(
            s, other_tenant.merchant_id, MallItemIn(kind="gift", name="Their cup", points_price=10)
        ).id
    _portal(client, sessions, tenant, member_id, settings)
    page = client.get("/portal/mall")
    assert "Their cup" not in page.text
    r = client.post(
        f"/portal/mall/{their_item}/redeem", data={"csrf_token": csrf_of(page), "key": "k" * 24}
    )
    assert r.status_code == 404
    client.post(
        "/portal/language",
        data={"locale": "zh_Hans", "next": "/portal", "csrf_token": csrf_of(page)},
    )
    home = client.get("/portal").text
    for expected in ("积分", "储值", "优惠券", "我的等级", "到店出示"):
        assert expected in home, expected
    assert "会员卡" in client.get("/portal/card").text
    assert "积分商城" in client.get("/portal/mall").text
