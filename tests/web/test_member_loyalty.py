"""The member page's loyalty panels and the balance adjustment, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.ledger import queries
from patron.ledger.models import JournalEntry
from tests.conftest import Tenant
from tests.web.helpers import add_staff, csrf_of, seed_loyalty, seed_member, sign_in, sign_in_as


def _key(page_text: str) -> str:
    found = re.search(r'name="key" value="([^"]+)"', page_text)
    assert found
    return found.group(1)


def _entries(sessions: sessionmaker[Session], tenant: Tenant) -> int:
    with sessions() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(JournalEntry)
                .where(JournalEntry.merchant_id == tenant.merchant_id)
            )
            or 0
        )


def test_member_page_shows_balances_lots_tier_statement_and_coupons(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    sign_in(client, tenant)
    page = client.get(f"/members/{member_id}")
    assert page.status_code == 200
    text = page.text
    assert 'data-testid="points">1,234<' in text
    assert "CN¥550.00" in text and "CN¥500.00 paid in + CN¥50.00 bonus" in text
    assert "1,200 growth in the last 12 months · 800 more for Gold" in text
    assert 'class="w-60"' in text  # 1,200 of 2,000
    assert "Birthday points" in text and "734 points for order A-1001" in text
    assert "Top-up" in text and "+CN¥500.00" in text
    assert "Autumn ¥20" in text and "CN¥20.00 off" in text and "Ready to use" in text
    # The lot expiring first is listed first (it is spent first).
    assert text.index(">500<") < text.index(">734<")
    full = client.get(f"/members/{member_id}/statement")
    assert full.status_code == 200 and "Birthday points" in full.text


def test_manager_adjusts_points_once_even_when_the_form_is_sent_twice(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    sign_in(client, tenant)
    page = client.get(f"/members/{member_id}")
    form = {
        "csrf_token": csrf_of(page),
        "key": _key(page.text),
        "asset": "points",
        "direction": "add",
        "amount": "100",
        "reason_code": "goodwill",
        "description": "Sorry for the late delivery",
        "note": "called on Monday",
    }
    before = _entries(sessions, tenant)
    first = client.post(f"/members/{member_id}/adjustments", data=form, follow_redirects=False)
    again = client.post(f"/members/{member_id}/adjustments", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert _entries(sessions, tenant) == before + 1
    with sessions() as s:
        assert queries.member_balances(s, tenant.merchant_id, member_id).points_spendable == 1334
    shown = client.get(f"/members/{member_id}")
    assert "Balance adjusted." in shown.text and "Sorry for the late delivery" in shown.text
    assert 'data-testid="points">1,334<' in shown.text
    # Stored value is money in major units; taking more than there is changes nothing.
    page = client.get(f"/members/{member_id}")
    form |= {"key": _key(page.text), "asset": "stored_principal", "direction": "deduct"}
    form["amount"] = "600.00"
    r = client.post(f"/members/{member_id}/adjustments", data=form)
    assert "The member does not have that much to take." in r.text
    assert _entries(sessions, tenant) == before + 1
    form |= {"key": _key(r.text), "amount": "12.50"}
    client.post(f"/members/{member_id}/adjustments", data=form)
    with sessions() as s:
        held = queries.member_balances(s, tenant.merchant_id, member_id).balances
    assert held["stored_principal"] == 50000 - 1250


def test_adjustment_needs_a_manager_and_csrf(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    page = client.get(f"/members/{member_id}")
    assert page.status_code == 200 and 'data-testid="points">1,234<' in page.text
    assert "Adjust a balance" not in page.text
    form = {
        "csrf_token": csrf_of(page),
        "key": "k" * 24,
        "asset": "points",
        "direction": "add",
        "amount": "100",
        "reason_code": "goodwill",
        "description": "free points",
    }
    before = _entries(sessions, tenant)
    assert client.post(f"/members/{member_id}/adjustments", data=form).status_code == 403
    manager = TestClient(client.app)
    email, password = add_staff(sessions, tenant, "manager")
    sign_in_as(manager, email, password)
    no_token = {k: v for k, v in form.items() if k != "csrf_token"}
    assert manager.post(f"/members/{member_id}/adjustments", data=no_token).status_code == 403
    assert _entries(sessions, tenant) == before


def test_another_merchants_member_is_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    theirs = seed_member(sessions, other_tenant, order_ref=None)
    seed_loyalty(sessions, other_tenant, theirs)
    sign_in(client, tenant)
    page = client.get("/members")
    assert client.get(f"/members/{theirs}").status_code == 404
    assert client.get(f"/members/{theirs}/statement").status_code == 404
    form = {
        "csrf_token": csrf_of(page),
        "key": "k" * 24,
        "asset": "points",
        "direction": "add",
        "amount": "100",
        "reason_code": "goodwill",
        "description": "free points",
    }
    before = _entries(sessions, other_tenant)
    assert client.post(f"/members/{theirs}/adjustments", data=form).status_code == 404
    assert _entries(sessions, other_tenant) == before


def test_member_panels_in_chinese(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    sign_in(client, tenant)
    page = client.get(f"/members/{member_id}")
    client.post("/language", data={"locale": "zh_Hans", "next": "/", "csrf_token": csrf_of(page)})
    text = client.get(f"/members/{member_id}").text
    for expected in ("可用积分", "储值", "积分批次", "账户明细", "优惠券", "调整余额", "生日积分"):
        assert expected in text, expected
