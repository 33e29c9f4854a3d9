"""Statement lines are worded when read, in the reader's language, with money in the entry's
currency (issue 10, defect 8; ADR 0621), on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.money import format_money
from patron.i18n import Formatter
from patron.ledger.service import EntryInfo, earn_points
from patron.ledger.words import Words, render
from patron.portal import service as portal
from patron.programs import rules, stored_value
from patron.programs.config import Kind
from tests.conftest import Tenant, make_tenant
from tests.web.helpers import csrf_of, seed_member, sign_in


def _top_up(sessions: sessionmaker[Session], tenant: Tenant, member_id: int, amount: int) -> None:
    with transaction(sessions) as s:
        levels = [{"top_up_minor": 100000, "bonus_minor": 15000}]
        rules.put_rule(s, tenant.merchant_id, Kind.STORED_VALUE, {"bonus_levels": levels}, "t")
        stored_value.top_up(s, tenant.merchant_id, member_id, amount, "top-up-1", "test")


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
    client.post(path, data={"csrf_token": csrf_of(client.get(path))}, follow_redirects=False)


def test_money_has_the_currency_own_decimals() -> None:
    assert format_money(1234, "JPY") == "JP¥1,234"
    assert format_money(1234, "KWD").replace("\xa0", " ") in ("KWD 1.234", "KWD1.234")
    assert format_money(123456, "CNY", "zh_Hans_CN") == "¥1,234.56"
    assert Formatter("zh_Hans", "JPY").money(1234) == "JP¥1,234"
    assert Formatter("en", "KWD").money(1234).endswith("1.234")


def test_words_render_in_chinese_and_english() -> None:
    words = Words(
        "purchase",
        {"order": "A-1"},
        (
            Words("points_paid", {"points": 200, "value_minor": 200, "currency": "CNY"}),
            Words("points_earned_pending", {"points": 1200}),
        ),
    )
    assert words.english() == "Order A-1: 200 points paid CN¥2.00, 1200 points earned (pending)"
    zh = Formatter("zh_Hans", "CNY")
    assert (
        zh.words(words.to_json()) == "订单 A-1：使用 200 积分抵扣 ¥2.00，获得 1,200 积分（待生效）"
    )
    assert zh.words(None, "Old text") == "Old text"
    assert render({"code": "welcome_bonus", "params": {}}, str, str, str) == "Welcome points"


def test_member_reads_the_top_up_in_chinese(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None, locale="zh_Hans")
    _top_up(sessions, tenant, member_id, 100000)
    _portal(client, sessions, tenant, member_id, settings)
    page = client.get("/portal/stored-value").text
    assert "充值 ¥1,000.00，赠送 ¥150.00" in page
    assert "Top-up of" not in page and "100000" not in page


def test_statement_follows_the_reader_and_keeps_old_rows(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    _top_up(sessions, tenant, member_id, 100000)
    with transaction(sessions) as s:  # an entry written before words: its text is kept
        old = EntryInfo("welcome_bonus", "Welcome points 2025 (old text)", "test")
        earn_points(s, tenant.merchant_id, member_id, 10, old)
    with transaction(sessions) as s:
        stored_value.top_up(s, tenant.merchant_id, member_id, 100000, "top-up-2", "test")
    sign_in(client, tenant)
    english = client.get(f"/members/{member_id}/statement").text
    assert "Top-up of CN¥1,000.00 with a bonus of CN¥150.00" in english
    assert "Welcome points 2025 (old text)" in english  # the old row, as it was
    path = f"/members/{member_id}/statement"
    page = client.post(
        "/language",
        data={"locale": "zh_Hans", "next": path, "csrf_token": csrf_of(client.get(path))},
    )
    assert "充值 ¥1,000.00，赠送 ¥150.00" in page.text


def test_a_yen_merchant_statement(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    yen = make_tenant(sessions, "yen-shop", currency="JPY")
    member_id = seed_member(sessions, yen, order_ref=None, locale="zh_Hans")
    with transaction(sessions) as s:
        stored_value.top_up(s, yen.merchant_id, member_id, 1234, "top-up-1", "test")
    _portal(client, sessions, yen, member_id, settings)
    assert "充值 JP¥1,234" in client.get("/portal/stored-value").text


def test_receipt_money_has_the_currency_own_decimals() -> None:
    from patron.checkout.receipt import money

    assert money(1234, "JPY") == "JP¥1,234"  # before: "JPY 12.34"
    assert money(1234, "KWD").endswith("1.234")  # three decimals
    assert money(1234, "CNY") == "CN¥12.34"
