"""A shop for the till tests, through the real services: the typical program (1 point per 1.00,
100 points pay 1.00, at least 100 at a time, at most half a sale; top up 100.00 get 20.00), a
small catalogue, and a member (Li Wei, +86 138 0000 0001) holding 300 points, 100.00 + 20.00 of
stored value and an unused 10.00 coupon."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, timedelta

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.coupons import service as coupons
from patron.coupons.schemas import TemplateIn
from patron.ledger import queries
from patron.ledger.models import JournalEntry
from patron.ledger.service import release_pending_points
from patron.members import service as members
from patron.orders.models import Order, Refund
from patron.orders.schemas import OrderCreate, OrderLineIn
from patron.orders.service import create_order
from patron.programs import stored_value
from patron.programs.models import TopUp
from tests.conftest import Tenant
from tests.programs.helpers import add_products, new_member, typical_program
from tests.web.helpers import csrf_of

PHONE = "+8613800000001"
SALE = re.compile(r'name="sale" value="([^"]+)"')
CASH = re.compile(r'name="expected_cash" value="(\d+)"')


@dataclass
class Shop:
    member_id: int
    coupon: str


def seed_shop(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    tenant: Tenant,
    birthday: date | None = None,
) -> Shop:
    m = tenant.merchant_id
    typical_program(sessions, m)
    add_products(sessions, m)
    member = new_member(sessions, m, PHONE, birthday)
    with transaction(sessions) as s:
        members.add_tags(s, m, member, ["regular"])
        create_order(
            s,
            m,
            OrderCreate(
                external_id="A-1",
                member_id=member,
                lines=[OrderLineIn(name="Tea set", quantity=1, unit_price_minor=30000)],
            ),
        )
    clock.advance(timedelta(days=8))
    with transaction(sessions) as s:
        release_pending_points(s, m)
        stored_value.top_up(s, m, member, 10000, "t-1", "clerk")
        template = coupons.create_template(
            s, m, TemplateIn(name="Ten off", kind="amount_off", amount_off_minor=1000)
        )
        code = coupons.issue_code(s, m, template.id, member).code
    return Shop(member, code)


def post(client: TestClient, path: str, data: dict[str, str] | None = None) -> Response:
    """A form POST with the session's CSRF token (redirects not followed)."""
    token = csrf_of(client.get("/till"))
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False)


def charge_form(page_text: str) -> dict[str, str]:
    """The Charge form's hidden fields, as the page rendered them."""
    sale, cash = SALE.search(page_text), CASH.search(page_text)
    assert sale and cash, "no Charge form on the page"
    return {"sale": html.unescape(sale.group(1)), "expected_cash": cash.group(1)}


def counts(sessions: sessionmaker[Session], tenant: Tenant) -> dict[str, int]:
    """Orders, refunds, top-ups and ledger entries of the tenant (to prove nothing changed)."""
    m = tenant.merchant_id
    with sessions() as s:
        return {
            name: int(s.scalar(select(func.count()).select_from(model).where(where)) or 0)
            for name, model, where in (
                ("orders", Order, Order.merchant_id == m),
                ("refunds", Refund, Refund.merchant_id == m),
                ("top_ups", TopUp, TopUp.merchant_id == m),
                ("entries", JournalEntry, JournalEntry.merchant_id == m),
            )
        }


def balances(sessions: sessionmaker[Session], tenant: Tenant, member_id: int) -> dict[str, int]:
    with sessions() as s:
        found = queries.member_balances(s, tenant.merchant_id, member_id)
        return {**found.balances, "spendable": found.points_spendable}
