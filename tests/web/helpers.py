"""Shared helpers for the page tests: seed members and orders through the real services."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.members import service as members
from patron.members.schemas import MemberCreate
from patron.orders import service as orders
from patron.orders.schemas import OrderCreate, OrderLineIn, RefundCreate, RefundLineIn
from tests.conftest import Tenant

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response: Response) -> str:
    """The CSRF token in a rendered page's forms."""
    found = CSRF.search(response.text)
    assert found, "page has no CSRF field"
    return found.group(1)


def seed_member(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    *,
    first: str = "Mei",
    last: str = "Chen",
    phone: str = "+8613800138000",
    email: str | None = "mei@example.com",
    order_ref: str | None = "A-1001",
    tags: list[str] | None = None,
    register: bool = True,
    locale: str | None = "en",
) -> int:
    """A member with one two-line order (and a partial refund) of merchant ``tenant``.

    The member reads English unless told otherwise (``locale=None``: the language is then
    inferred from the +86 phone, i.e. Chinese)."""
    with transaction(sessions) as s:
        member = members.create_member(
            s,
            tenant.merchant_id,
            MemberCreate(
                first_name=first,
                last_name=last,
                phone=phone,
                email=email,
                tags=tags or [],
                registered=register,
                locale=locale,
            ),
        )
        if order_ref:
            order, _ = orders.create_order(
                s,
                tenant.merchant_id,
                OrderCreate(
                    external_id=order_ref,
                    member_id=member.id,
                    store_id=tenant.store_id,
                    lines=[
                        OrderLineIn(
                            name="Wool coat", category="Coats", quantity=1, unit_price_minor=59900
                        ),
                        OrderLineIn(
                            name="Silk scarf",
                            category="Accessories",
                            quantity=2,
                            unit_price_minor=12950,
                        ),
                    ],
                ),
            )
            orders.refund_order(
                s,
                tenant.merchant_id,
                order.id,
                RefundCreate(
                    external_id=f"R-{order_ref}",
                    lines=[RefundLineIn(line_no=2, quantity=1)],
                    reason="colour not as pictured",
                ),
            )
        return member.id


def sign_in(client: TestClient, tenant: Tenant) -> None:
    """Sign the test client in to the dashboard as the tenant's owner."""
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "email": tenant.owner_email,
            "password": tenant.owner_password,
            "csrf_token": csrf_of(page),
            "next": "/dashboard",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/dashboard"


def add_staff(
    sessions: sessionmaker[Session], tenant: Tenant, role: str, email: str | None = None
) -> tuple[str, str]:
    """A dashboard login with ``role`` for the tenant; returns (email, password)."""
    from patron.tenancy import service as tenancy

    address = email or f"{role}@{tenant.owner_email.split('@')[1]}"
    with transaction(sessions) as s:
        tenancy.create_staff_user(
            s, tenant.merchant_id, address, role.title(), role, "staff pass 1"
        )
    return address, "staff pass 1"


def sign_in_as(client: TestClient, email: str, password: str) -> None:
    """Sign the test client in to the dashboard with this login."""
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def seed_loyalty(sessions: sessionmaker[Session], tenant: Tenant, member_id: int) -> None:
    """Programs and balances through the services: 1,234 points (500 expiring in 10 days),
    a ¥500.00 top-up with a ¥50.00 bonus, 1,200 growth of the 2,000 Gold needs, a coupon."""
    from datetime import timedelta

    from patron.core.clock import utcnow
    from patron.coupons import service as coupons
    from patron.coupons.schemas import TemplateIn
    from patron.ledger.service import Asset, EntryInfo, adjust_balance, earn_points
    from patron.programs import rules, stored_value
    from patron.programs.config import Kind

    with transaction(sessions) as s:
        m = tenant.merchant_id
        rules.put_rule(s, m, Kind.POINTS, {"expiring_notice_days": 14}, "test")
        tiers = [
            {"code": "silver", "name": "Silver", "threshold": 0},
            {"code": "gold", "name": "Gold", "threshold": 2000},
        ]
        rules.put_rule(s, m, Kind.TIERS, {"tiers": tiers}, "test")
        rules.put_rule(
            s,
            m,
            Kind.STORED_VALUE,
            {"bonus_levels": [{"top_up_minor": 50000, "bonus_minor": 5000}]},
            "test",
        )
        now = utcnow(s)
        info = EntryInfo("purchase_points", "734 points for order A-1001", "test")
        earn_points(s, m, member_id, 734, info, expires_at=now + timedelta(days=300))
        info = EntryInfo("birthday_bonus", "Birthday points", "test")
        earn_points(s, m, member_id, 500, info, expires_at=now + timedelta(days=10))
        stored_value.top_up(s, m, member_id, 50000, "top-up-1", "test")
        info = EntryInfo("purchase", "Growth for order A-1001", "test")
        adjust_balance(s, m, member_id, Asset.GROWTH, 1200, info)
        template = coupons.create_template(
            s, m, TemplateIn(name="Autumn ¥20", kind="amount_off", amount_off_minor=2000)
        )
        coupons.issue_code(s, m, template.id, member_id)
