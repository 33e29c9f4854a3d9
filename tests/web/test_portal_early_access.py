"""The portal home's early access panel (ADR 0357): this merchant's products not yet released,
soonest first, and whether the signed-in member may buy them today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.orders.schemas import ProductCreate
from patron.orders.service import create_product
from tests.conftest import START, Tenant
from tests.programs.helpers import MEMBER_DAY, set_rules
from tests.web.helpers import seed_member
from tests.web.test_portal_loyalty import _portal

PANEL = 'data-testid="early-access"'


def _product(
    sessions: sessionmaker[Session],
    merchant_id: int,
    sku: str,
    name: str,
    release_at: datetime | None,
    active: bool = True,
) -> None:
    with transaction(sessions) as s:
        create_product(
            s,
            merchant_id,
            ProductCreate(
                sku=sku, name=name, price_minor=68800, release_at=release_at, active=active
            ),
        )


def test_panel_lists_upcoming_products_for_the_member(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    m = tenant.merchant_id
    set_rules(sessions, m, member_day={**MEMBER_DAY, "early_access": "member_day"})
    member_id = seed_member(sessions, tenant, order_ref=None)
    _product(sessions, m, "GIFT-9", "Silver Needle box", START + timedelta(days=30))
    _product(sessions, m, "LJ-27", "Pre-Qingming Longjing", datetime(2026, 3, 20, 2, tzinfo=UTC))
    _product(sessions, m, "OLD-1", "Released tea", START - timedelta(days=1))
    _product(sessions, m, "OFF-1", "Withdrawn tea", START + timedelta(days=5), active=False)
    _product(sessions, other_tenant.merchant_id, "B-1", "Bravo's new tea", START + timedelta(1))
    _portal(client, sessions, tenant, member_id, settings)

    home = client.get("/portal")
    assert home.status_code == 200 and PANEL in home.text
    panel = home.text.split(PANEL, 1)[1].split("</section>", 1)[0]
    assert panel.index("Pre-Qingming Longjing") < panel.index("Silver Needle box")
    for absent in ("Released tea", "Withdrawn tea", "Bravo's new tea"):
        assert absent not in panel
    assert (
        '<td>Pre-Qingming Longjing</td><td class="num">CN¥688.00</td>'
        "<td>20 Mar 2026, 10:00:00</td>" in panel
    )
    assert "You can buy these now, before everyone else." in panel  # the 10th: member day

    clock.set(START + timedelta(days=1))  # the 11th: no member day
    panel = client.get("/portal").text.split(PANEL, 1)[1].split("</section>", 1)[0]
    assert "You can buy these on a member day, before everyone else." in panel

    clock.set(datetime(2026, 3, 20, 2, tzinfo=UTC))  # the Longjing is on sale to everyone
    panel = client.get("/portal").text.split(PANEL, 1)[1].split("</section>", 1)[0]
    assert "Pre-Qingming Longjing" not in panel and "Silver Needle box" in panel


def test_no_panel_without_upcoming_products(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    _product(sessions, tenant.merchant_id, "OLD-1", "Released tea", START - timedelta(days=1))
    _portal(client, sessions, tenant, member_id, settings)
    home = client.get("/portal")
    assert home.status_code == 200 and PANEL not in home.text
