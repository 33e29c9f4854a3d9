"""Scan to buy (ADR 1341): a product's QR code (dashboard) opens the product in the portal with
the member's price; early access, tenancy, sign-in and back, both languages."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import segno
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.orders.models import Product
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from patron.portal.models import PortalVisit
from patron.portal.posters import SCALE
from tests.conftest import START, Tenant
from tests.engagement.providers import SmtpSink
from tests.portal.helpers import emailed_code, enter_code, post_form, use_email
from tests.programs.helpers import MEMBER_DAY, TIERS, set_rules
from tests.web.helpers import add_staff, seed_member, sign_in, sign_in_as
from tests.web.test_portal_loyalty import _portal


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _product(
    sessions: sessionmaker[Session],
    merchant_id: int,
    sku: str,
    name: str,
    release_in_days: int | None = None,
    active: bool = True,
) -> int:
    with transaction(sessions) as s:
        release = START + timedelta(days=release_in_days) if release_in_days else None
        p = create_product(
            s,
            merchant_id,
            ProductCreate(sku=sku, name=name, price_minor=68800, release_at=release, active=active),
        )
        return p.id


def _modules(png: bytes, size: int) -> list[list[bool]]:
    """The dark modules of a code drawn at ``SCALE`` pixels a module with a 4-module border."""
    img = Image.open(io.BytesIO(png)).convert("L")
    return [
        [
            img.getpixel(((4 + c) * SCALE + SCALE // 2, (4 + r) * SCALE + SCALE // 2)) < 128
            for c in range(size)
        ]
        for r in range(size)
    ]


def test_product_qr_codes_encode_the_portal_link(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    pid = _product(sessions, tenant.merchant_id, "LJ-1", "明前龙井 Longjing")
    theirs = _product(sessions, other_tenant.merchant_id, "B-1", "Bravo tea")
    assert client.get(f"/products/{pid}/qr.svg", follow_redirects=False).status_code == 303
    sign_in(client, tenant)
    url = f"{settings.base_url.rstrip('/')}/portal/alpha/p/{pid}"
    page = client.get(f"/products/{pid}")
    assert page.status_code == 200 and url in page.text
    assert f'href="/products/{pid}/qr.png" download' in page.text
    svg = client.get(f"/products/{pid}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "明前龙井 Longjing</text>" in svg.text
    png = client.get(f"/products/{pid}/qr.png")
    assert png.headers["content-type"] == "image/png"
    # The PNG's modules are exactly the QR code of the link (segno draws both).
    want = segno.make(url, error="m")
    size = want.symbol_size(scale=1, border=0)[0]
    assert _modules(png.content, size) == [[bool(v) for v in row] for row in want.matrix]
    out = io.BytesIO()
    want.save(out, kind="svg", scale=SCALE, border=4, xmldecl=False, svgns=True, svgclass=None)
    assert out.getvalue().decode() in svg.text
    # Another merchant's product, or none: not found.
    # A clerk prints product codes too (the product page is open to every staff role).
    clerk_email, clerk_password = add_staff(sessions, tenant, "clerk")
    clerk = TestClient(client.app)
    sign_in_as(clerk, clerk_email, clerk_password)
    assert clerk.get(f"/products/{pid}/qr.png").content == png.content
    gone = (f"/products/{theirs}/qr.svg", f"/products/{theirs}/qr.png", "/products/999/qr.png")
    for path in gone:
        assert client.get(path).status_code == 404, path


def test_member_sees_their_price_and_the_till_code(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    m = tenant.merchant_id
    set_rules(sessions, m, tiers=TIERS, member_day=MEMBER_DAY)  # the 10th is a member day
    pid = _product(sessions, m, "LJ-1", "Longjing")
    member_id = seed_member(sessions, tenant, order_ref=None)
    _portal(client, sessions, tenant, member_id, settings)
    r = client.get(f"/portal/alpha/p/{pid}")
    assert r.status_code == 200
    assert '<h1 id="product-name">Longjing</h1>' in r.text
    assert 'data-testid="list-price">CN¥688.00<' in r.text
    # Member day 5% off 688.00 = 34.40 → 653.60 (the checkout's quote).
    assert 'data-testid="member-price">CN¥653.60<' in r.text
    assert "Member day" in r.text and "show this code at the till" in r.text
    assert '<div class="qr" role="img"' in r.text and "<svg" in r.text
    with sessions() as s:  # the product page counts as a portal visit
        assert s.scalar(select(PortalVisit.member_id).where(PortalVisit.merchant_id == m))
    # A member who reads Chinese.
    zh_member = seed_member(
        sessions, tenant, order_ref=None, phone="+8613800138001", email=None, locale="zh_Hans"
    )
    _portal(client, sessions, tenant, zh_member, settings)
    zh = client.get(f"/portal/alpha/p/{pid}").text
    assert "会员价" in zh and "¥653.60" in zh and "收银台" in zh and "会员日" in zh


def test_early_access_shows_only_to_eligible_members(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    m = tenant.merchant_id
    pid = _product(sessions, m, "NEW-1", "Silver Needle", release_in_days=5)
    # A visitor never sees an unreleased product.
    visitor = client.get(f"/portal/alpha/p/{pid}")
    assert visitor.status_code == 200
    assert "Silver Needle" not in visitor.text and "Coming soon" in visitor.text
    # Early access only for Gold members: a Silver member is told when, not what.
    set_rules(
        sessions,
        m,
        tiers=TIERS,
        member_day={**MEMBER_DAY, "early_access_tiers": ["gold"]},
    )
    member_id = seed_member(sessions, tenant, order_ref=None)
    _portal(client, sessions, tenant, member_id, settings)
    r = client.get(f"/portal/alpha/p/{pid}")
    assert "Silver Needle" not in r.text and "CN¥688.00" not in r.text
    assert "Early access is for members of a higher tier." in r.text
    # Any member on any day: shown, marked early access.
    set_rules(sessions, m, member_day=MEMBER_DAY)
    r = client.get(f"/portal/alpha/p/{pid}")
    assert "Silver Needle" in r.text and 'data-testid="early-access"' in r.text
    assert 'data-testid="member-price">CN¥653.60<' in r.text


def test_visitor_signs_in_and_comes_back_to_the_product(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    smtp: SmtpSink,
) -> None:
    pid = _product(sessions, tenant.merchant_id, "LJ-1", "Longjing")
    theirs = _product(sessions, other_tenant.merchant_id, "B-1", "Bravo tea")
    off = _product(sessions, tenant.merchant_id, "OFF-1", "Withdrawn", active=False)
    r = client.get(f"/portal/alpha/p/{pid}")
    assert r.status_code == 200 and "Longjing" in r.text and "CN¥688.00" in r.text
    assert 'href="/portal/alpha/signin"' in r.text and 'href="/portal/alpha/join"' in r.text
    assert "member-price" not in r.text
    # Tenancy and unknown products.
    for path in (
        f"/portal/alpha/p/{theirs}",
        f"/portal/bravo/p/{pid}",
        f"/portal/alpha/p/{off}",
        "/portal/alpha/p/99999",
        f"/portal/nobody/p/{pid}",
    ):
        assert client.get(path).status_code == 404, path
    # Sign in by code: the code sends the member back to the product.
    use_email(sessions, tenant, smtp)
    seed_member(sessions, tenant, order_ref=None)
    client.get(f"/portal/alpha/p/{pid}")
    post_form(client, "/portal/alpha/signin", {"contact": "mei@example.com"})
    r = enter_code(client, "alpha", emailed_code(smtp))
    assert r.headers["location"] == f"/portal/alpha/p/{pid}"  # type: ignore[attr-defined]
    assert 'data-testid="member-price"' in client.get(f"/portal/alpha/p/{pid}").text
    # A visitor in Chinese.
    client.cookies.clear()
    zh = client.get(f"/portal/alpha/p/{pid}", headers={"Accept-Language": "zh-CN"}).text
    assert "登录" in zh and "立即入会" in zh and "会员价" in zh


def test_member_of_another_shop_is_a_visitor_here(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    theirs = _product(sessions, other_tenant.merchant_id, "B-1", "Bravo tea")
    member_id = seed_member(sessions, tenant, order_ref=None)
    _portal(client, sessions, tenant, member_id, settings)
    r = client.get(f"/portal/bravo/p/{theirs}")
    assert r.status_code == 200 and "member-price" not in r.text
    assert 'href="/portal/bravo/signin"' in r.text
    with sessions() as s:
        assert s.scalar(select(Product.id).where(Product.id == theirs)) == theirs
    assert re.search(r"/portal/bravo/p/\d+", f"/portal/bravo/p/{theirs}")
