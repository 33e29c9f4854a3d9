"""The dashboard's products pages (ADR 0357): release time on the list and the detail, the
early access list, and setting a release time in the shop's time zone (managers only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.orders.models import Product
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from tests.conftest import START, Tenant
from tests.web.helpers import add_staff, csrf_of, sign_in, sign_in_as


def _products(sessions: sessionmaker[Session], merchant_id: int) -> dict[str, int]:
    made = {}
    with transaction(sessions) as s:
        for sku, name, release in [
            ("LJ-27", "Pre-Qingming Longjing", datetime(2026, 3, 20, 2, tzinfo=UTC)),
            ("GIFT-9", "Silver Needle box", START + timedelta(days=30)),
            ("OLD-1", "Released tea", START - timedelta(days=1)),
            ("CUP-1", "Tea cup", None),
        ]:
            p = create_product(
                s,
                merchant_id,
                ProductCreate(sku=sku, name=name, price_minor=4500, release_at=release),
            )
            made[sku] = p.id
    return made


def _release(sessions: sessionmaker[Session], product_id: int) -> datetime | None:
    with sessions() as s:
        product = s.get(Product, product_id)
        assert product is not None
        return product.release_at


def test_list_detail_and_early_access_list(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = _products(sessions, tenant.merchant_id)
    _products(sessions, other_tenant.merchant_id)
    sign_in(client, tenant)
    page = client.get("/products")
    assert page.status_code == 200
    assert page.text.count("<tr>") == 5  # the head and this merchant's four products
    assert "on sale to everyone 20/03/2026, 10:00" in page.text
    early = client.get("/products?view=early")
    table = early.text.split('data-testid="early-access"', 1)[1].split("</table>", 1)[0]
    assert table.index("Pre-Qingming Longjing") < table.index("Silver Needle box")
    assert "Released tea" not in table and "Tea cup" not in table
    detail = client.get(f"/products/{ids['LJ-27']}")
    assert 'data-testid="release">20 Mar 2026, 10:00:00<' in detail.text
    assert "members may buy it on any day" in detail.text
    assert 'value="2026-03-20T10:00"' in detail.text
    released = client.get(f"/products/{ids['CUP-1']}")
    assert "Anyone can buy this product." in released.text


def test_manager_sets_and_clears_the_release_time(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = _products(sessions, tenant.merchant_id)
    sign_in(client, tenant)
    page = client.get(f"/products/{ids['CUP-1']}")
    r = client.post(
        f"/products/{ids['CUP-1']}/release",
        data={"csrf_token": csrf_of(page), "release_at": "2026-04-01T09:30"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _release(sessions, ids["CUP-1"]) == datetime(2026, 4, 1, 1, 30, tzinfo=UTC)
    bad = client.post(
        f"/products/{ids['CUP-1']}/release",
        data={"csrf_token": csrf_of(page), "release_at": "next tuesday"},
    )
    assert "Not saved: &#39;next tuesday&#39; is not a date and time" in bad.text
    assert _release(sessions, ids["CUP-1"]) == datetime(2026, 4, 1, 1, 30, tzinfo=UTC)
    client.post(
        f"/products/{ids['CUP-1']}/release", data={"csrf_token": csrf_of(page), "release_at": ""}
    )
    assert _release(sessions, ids["CUP-1"]) is None


def test_clerk_sees_but_cannot_set_the_release_time(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = _products(sessions, tenant.merchant_id)
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    page = client.get(f"/products/{ids['LJ-27']}")
    assert page.status_code == 200 and 'name="release_at"' not in page.text
    r = client.post(
        f"/products/{ids['LJ-27']}/release",
        data={"csrf_token": csrf_of(client.get("/products")), "release_at": ""},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert _release(sessions, ids["LJ-27"]) == datetime(2026, 3, 20, 2, tzinfo=UTC)


def test_another_merchants_product_is_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    theirs = _products(sessions, other_tenant.merchant_id)
    sign_in(client, tenant)
    assert client.get(f"/products/{theirs['LJ-27']}").status_code == 404
