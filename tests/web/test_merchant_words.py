"""Merchant words, not codes (issue 10 item 9), on SQLite and PostgreSQL: the segment builder
asks for money as money, dates as dates and choices from lists and stores the same rules as the
API; rules, channel settings and journeys read in words; locale and source codes are named."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.core.member_fields import FIELDS
from patron.engagement import library
from patron.engagement.journeys import engine as journey_engine
from patron.engagement.journeys import service as journeys
from patron.engagement.journeys.models import Journey
from patron.engagement.models import ChannelSetting
from patron.engagement.segments import service as segments
from patron.engagement.segments.models import Segment
from patron.members import service as members
from patron.members.models import Member
from patron.members.schemas import MemberCreate
from patron.orders import service as orders
from patron.orders.schemas import OrderCreate, OrderLineIn
from patron.tenancy import service as tenancy
from patron.web.dashboard.channel_forms import CHANNEL_FORMS
from tests.conftest import Tenant, make_tenant
from tests.web.helpers import csrf_of, sign_in, sign_in_as
from tests.web.visible import code_words, visible_text

# Codes that are not also ordinary English words (those are checked as the words they are).
OP_CODES = {"eq", "ne", "gt", "gte", "lt", "lte", "not_in", "has_not", "within_days", "not_granted"}
FIELD_CODES = {name for name in FIELDS if "_" in name}
SETTING_CODES = {f.key for fields in CHANNEL_FORMS.values() for f in fields if "_" in f.key} | {
    "host",
    "username",
    "starttls",
    "appid",
}
STEP_CODES = {"wait1", "wait2", "wait3", "howto", "hello", "notify"}
LOCALE_CODES = {"zh_Hans_CN", "zh_Hans", "en_GB", "demo-signup", "demo-pos"}


def _spender(
    sessions: sessionmaker[Session], tenant: Tenant, first: str, phone: str, minor: int | None
) -> int:
    """A member who spent ``minor`` in one order (None: never bought)."""
    with transaction(sessions) as s:
        member = members.create_member(
            s, tenant.merchant_id, MemberCreate(first_name=first, last_name="Test", phone=phone)
        )
        if minor is not None:
            line = OrderLineIn(name="Tea", category="Tea", quantity=1, unit_price_minor=minor)
            orders.create_order(
                s,
                tenant.merchant_id,
                OrderCreate(
                    external_id=f"O-{first}",
                    member_id=member.id,
                    store_id=tenant.store_id,
                    lines=[line],
                ),
            )
        return member.id


def _rows(*rows: dict[str, Any]) -> dict[str, Any]:
    """Builder form fields for ``rows`` ({"field", "op", "value", "high", "days", "part"})."""
    data: dict[str, Any] = {}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"r{i}-{key}"] = value
    return data


def _save(client: TestClient, name: str, *rows: dict[str, Any], join: str = "all") -> Any:
    token = csrf_of(client.get("/segments/new"))
    form = {"csrf_token": token, "name": name, "join": join, "action": "save", **_rows(*rows)}
    return client.post("/segments/save", data=form, follow_redirects=False)


def _stored(db: Session, name: str) -> Segment:
    db.rollback()
    return db.scalars(select(Segment).where(Segment.name == name)).one()


def test_money_typed_as_500_is_stored_in_minor_units_and_counts_exactly(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], db: Session
) -> None:
    _spender(sessions, tenant, "Under", "+8613800000001", 49999)
    at = _spender(sessions, tenant, "Exactly", "+8613800000002", 50000)
    over = _spender(sessions, tenant, "Over", "+8613800000003", 50001)
    _spender(sessions, tenant, "Never", "+8613800000004", None)
    sign_in(client, tenant)
    saved = _save(client, "Big", {"field": "total_spent_minor", "op": "gte", "value": "500"})
    assert saved.status_code == 303
    segment = _stored(db, "Big")
    assert segment.rules == {
        "all": [{"field": "total_spent_minor", "op": "gte", "value": 500 * 100}]
    }
    assert segment.member_count == 2
    members_of = {m.id for m in segments.segment_members(db, tenant.merchant_id, segment.id)}
    assert members_of == {at, over}
    detail = visible_text(client.get(f"/segments/{segment.id}").text)
    assert "Total spent at least CN¥500.00" in detail
    # a yen merchant types yen: 500 is 500 (JPY has no minor unit)
    yen = make_tenant(sessions, "yen", currency="JPY")
    sign_in(client, yen)
    assert _save(client, "Yen", {"field": "total_spent_minor", "op": "gte", "value": "500"})
    assert _stored(db, "Yen").rules["all"][0]["value"] == 500


def test_typed_values_become_the_rules_the_api_takes(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], db: Session
) -> None:
    sign_in(client, tenant)
    rows = (
        {"field": "p_alive", "op": "lt", "value": "40"},
        {"field": "funnel_stage", "op": "in", "value": ["member", "fan"]},
        {"field": "registered_date", "op": "between", "value": "2026-01-01", "high": "2026-03-31"},
        {
            "field": "spend_within_days",
            "op": "between",
            "value": "100",
            "high": "250.5",
            "days": "90",
        },
        {"field": "home_store_id", "op": "eq", "value": str(tenant.store_id)},
        {"field": "registered", "op": "eq", "value": "no"},
        {"field": "bought_category", "op": "within_days", "value": "Tea", "days": "30"},
        {"field": "consent", "op": "granted", "part": "email", "value": "marketing"},
        {"field": "rfm_score", "op": "gte", "part": "r", "value": "4"},
        {"field": "everyone", "op": "eq"},
    )
    assert _save(client, "Typed", *rows).status_code == 303
    assert _stored(db, "Typed").rules == {
        "all": [
            {"field": "p_alive", "op": "lt", "value": 0.4},
            {"field": "funnel_stage", "op": "in", "value": ["member", "fan"]},
            {"field": "registered_date", "op": "between", "value": ["2026-01-01", "2026-03-31"]},
            {
                "field": "spend_within_days",
                "op": "between",
                "value": {"days": 90, "amount": [10000, 25050]},
            },
            {"field": "home_store_id", "op": "eq", "value": tenant.store_id},
            {"field": "registered", "op": "eq", "value": False},
            {
                "field": "bought_category",
                "op": "within_days",
                "value": {"category": "Tea", "days": 30},
            },
            {
                "field": "consent",
                "op": "granted",
                "value": {"channel": "email", "topic": "marketing"},
            },
            {"field": "rfm_score", "op": "gte", "value": {"score": "r", "value": 4}},
            {"field": "everyone", "op": "eq", "value": True},
        ]
    }
    # and back: the edit page shows them as they were typed
    edit = client.get(f"/segments/{_stored(db, 'Typed').id}/edit").text
    for shown in ('name="r0-value" value="40"', 'name="r3-high" value="250.50"'):
        assert shown in edit, shown
    assert 'name="r2-high" value="2026-03-31"' in edit
    # a stored choice no longer in the merchant's lists stays chosen (never silently dropped)
    with transaction(sessions) as s:
        gone = segments.create_segment(
            s,
            tenant.merchant_id,
            "Old tier",
            {"all": [{"field": "tier", "op": "eq", "value": "platinum"}]},
        )
    assert '<option value="platinum" selected>' in client.get(f"/segments/{gone.id}/edit").text


def test_unreadable_value_is_refused_in_words_and_stores_nothing(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    sign_in(client, tenant)
    bad = _save(
        client,
        "Bad",
        {"field": "orders_count", "op": "gte", "value": "3"},
        {"field": "total_spent_minor", "op": "gte", "value": "12.345"},
    )
    assert bad.status_code == 422
    error = visible_text(bad.text)
    assert "Not saved: Rule 2: Enter an amount, like 12.50." in error
    assert code_words(error, FIELD_CODES | OP_CODES) == []
    percent = _save(client, "Bad", {"field": "p_alive", "op": "gte", "value": "150"})
    assert "Rule 1: Enter a percentage from 0 to 100." in visible_text(percent.text)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Segment)) == 0


def test_builder_and_segment_pages_show_no_code_words(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    _spender(sessions, tenant, "Mei", "+8613800000001", 59900)
    nested = {
        "any": [
            {"field": "total_spent_minor", "op": "gte", "value": 50000},
            {
                "all": [
                    {"field": "last_order_days_ago", "op": "gt", "value": 90},
                    {"field": "p_alive", "op": "lt", "value": 0.3},
                    {"not": {"field": "tag", "op": "has", "value": "vip"}},
                ]
            },
            {"field": "funnel_stage", "op": "in", "value": ["member", "fan"]},
            {"field": "locale", "op": "eq", "value": "zh_Hans_CN"},
        ]
    }
    with transaction(sessions) as s:
        simple = segments.create_segment(
            s,
            tenant.merchant_id,
            "Simple",
            {"all": [{"field": "orders_count", "op": "gte", "value": 1}]},
        )
        deep = segments.create_segment(
            s, tenant.merchant_id, "Deep", {"all": [nested, {"segment": simple.id}]}
        )
    sign_in(client, tenant)
    builder = visible_text(client.get("/segments/new").text)
    assert "Total spent" in builder and "Chance still active" in builder
    assert code_words(builder, FIELD_CODES | OP_CODES) == []
    edit = visible_text(client.get(f"/segments/{simple.id}/edit").text)
    assert "at least" in edit and code_words(edit, FIELD_CODES | OP_CODES) == []
    page = client.get(f"/segments/{deep.id}")
    detail = visible_text(page.text)
    for said in (
        "All of these:",
        "Any of these:",
        "Total spent at least CN¥500.00",
        "Last purchase more than 90 days ago",
        "Chance still active less than 30%",
        "None of these:",
        "Has the tag “vip”",
        "Stage is one of Member or Fan",
        "Language is Chinese (Simplified, China)",
        "In the segment “Simple”",
    ):
        assert said in detail, said
    assert code_words(detail, FIELD_CODES | OP_CODES | LOCALE_CODES) == [] and "{" not in detail
    assert f'href="/segments/{deep.id}/edit"' not in page.text  # nested: read-only, in words


def test_live_count_reads_the_form_and_needs_csrf(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    _spender(sessions, tenant, "Under", "+8613800000001", 49999)
    _spender(sessions, tenant, "Over", "+8613800000002", 50001)
    sign_in(client, tenant)
    token = csrf_of(client.get("/segments/new"))
    form = {"join": "all", **_rows({"field": "total_spent_minor", "op": "gte", "value": "500"})}
    r = client.post("/segments/preview", data=form, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json() == {"count": 1, "time_relative": False}
    assert client.post("/segments/preview", data=form).status_code == 403
    bad = {"join": "all", **_rows({"field": "orders_count", "op": "gte", "value": "three"})}
    r = client.post("/segments/preview", data=bad, headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.json() == {"error": "Rule 1: Enter a whole number."}


def test_clerk_cannot_save_a_segment_and_another_merchant_cannot_edit_one(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    db: Session,
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as s:
        tenancy.create_staff_user(
            s, tenant.merchant_id, "clerk@alpha.test", "Clerk", "clerk", "pw clerk 123"
        )
        seg_id = segments.create_segment(
            s,
            tenant.merchant_id,
            "Mine",
            {"all": [{"field": "everyone", "op": "eq", "value": True}]},
        ).id
    sign_in_as(client, "clerk@alpha.test", "pw clerk 123")
    refused = _save(client, "Clerk's", {"field": "everyone", "op": "eq"})
    assert refused.status_code == 403
    client.cookies.clear()
    sign_in(client, other_tenant)
    token = csrf_of(client.get("/segments"))
    form = {"csrf_token": token, "segment_id": str(seg_id), "name": "Taken", "join": "all"}
    form |= _rows({"field": "everyone", "op": "eq"})
    assert client.post("/segments/save", data=form).status_code == 404
    db.rollback()
    assert [s.name for s in db.scalars(select(Segment))] == ["Mine"]


def test_channel_settings_in_words_and_in_app_ready(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], db: Session
) -> None:
    with transaction(sessions) as s:
        library.put_channel_setting(
            s,
            tenant.merchant_id,
            "email",
            enabled=True,
            base_url=None,
            credentials={"host": "smtp.example.com", "port": 587, "timeout_seconds": 5},
        )
    sign_in(client, tenant)
    page = client.get("/message-settings")
    text = visible_text(page.text)
    for label in (
        "Mail server",
        "Sender address",
        "Use STARTTLS (encrypted connection)",
        "Bounce webhook secret",
        "Ready — no setup needed",
    ):
        assert label in text, label
    assert code_words(text, SETTING_CODES) == [] and "Not set up\nIn-app" not in text
    in_app = page.text[page.text.index('id="channel-in_app"') :]
    assert "Ready — no setup needed" in in_app and "Not set up" not in in_app
    assert 'role="switch" name="cred_starttls"' in page.text
    assert 'type="number" min="1" max="65535"' in page.text
    form = {
        "csrf_token": csrf_of(page),
        "enabled": "on",
        "cred_host": "mail.example.com",
        "cred_port": "465",
        "cred_use_ssl": "on",
    }
    r = client.post("/message-settings/channels/email", data=form, follow_redirects=False)
    assert r.status_code == 303
    db.rollback()
    row = db.scalars(select(ChannelSetting).where(ChannelSetting.channel == "email")).one()
    # what the form shows is replaced; what it does not show (set through the API) is kept
    assert row.credentials == {
        "host": "mail.example.com",
        "port": 465,
        "starttls": False,
        "use_ssl": True,
        "timeout_seconds": 5,
    }
    bad = client.post(
        "/message-settings/channels/email", data={**form, "cred_port": "x"}, follow_redirects=True
    )
    assert "Port: enter a whole number." in visible_text(bad.text)


def test_journey_pages_show_steps_in_words(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as s:
        welcome = journeys.create_from_library(s, tenant.merchant_id, "welcome", {"days": 2})
        journeys.switch(s, tenant.merchant_id, welcome.id, True)
        care = journeys.create_from_library(s, tenant.merchant_id, "after_sales", {"days": 3})
        mei = members.create_member(
            s, tenant.merchant_id, MemberCreate(first_name="Mei", phone="+8613800000001")
        )
    with transaction(sessions) as s:
        assert journey_engine.enrol(s, s.get_one(Journey, welcome.id), mei.id, "member.created")
    while journey_engine.run_due(sessions) > 0:
        pass  # Mei is greeted, waits 2 days, then step 3 is due
    sign_in(client, tenant)
    page = visible_text(client.get(f"/journeys/{welcome.id}").text)
    for said in (
        "Send “Welcome, [Greeting name]” (In-app)",
        "Wait 2 days",
        "Send “How points work” (In-app)",
        "Wait 4 days",
        "Step 3 · Send",  # where Mei is next, in the members table
    ):
        assert said in page, said
    assert "{{" not in page and "{%" not in page
    assert code_words(page, STEP_CODES) == []
    care_page = visible_text(client.get(f"/journeys/{care.id}").text)
    assert "Send “Would you write a review?” (In-app)" in care_page
    assert code_words(care_page, STEP_CODES) == [] and "{{" not in care_page
    step = visible_text(client.get(f"/journeys/{care.id}/steps/review").text)
    assert "Step 4 · Send" in step and code_words(step, STEP_CODES) == []
    assert "Title" in step and "Message" in step
    token = csrf_of(client.get("/journeys"))
    client.post("/language", data={"locale": "zh_Hans", "csrf_token": token, "next": "/journeys"})
    chinese = visible_text(client.get(f"/journeys/{welcome.id}").text)
    assert "发送“欢迎，【称呼】”（应用内）" in chinese and "{{" not in chinese
    assert "第 3 步 · 发送" in chinese
    panel = visible_text(client.get(f"/members/{mei.id}").text)
    assert "第 1 步" in panel and code_words(panel, STEP_CODES) == []


def test_member_page_names_language_and_source(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], db: Session
) -> None:
    with transaction(sessions) as s:
        mei = members.create_member(
            s,
            tenant.merchant_id,
            MemberCreate(
                first_name="Mei", phone="+8613800000001", source="demo-signup", locale="zh_Hans_CN"
            ),
        )
        other = members.create_member(
            s,
            tenant.merchant_id,
            MemberCreate(first_name="Bo", phone="+8613800000002", source="my-crm"),
        )
    sign_in(client, tenant)
    page = visible_text(client.get(f"/members/{mei.id}").text)
    # The member's language is named, with where it comes from (given here), never its code.
    assert "Chinese (Simplified)\n· as given" in page and "Signed up (sample data)" in page
    assert code_words(page, LOCALE_CODES) == []
    assert "My crm" in visible_text(client.get(f"/members/{other.id}").text)
    assert db.get(Member, mei.id) is not None


def test_segment_fields_api_says_what_each_value_is(client: TestClient, tenant: Tenant) -> None:
    r = client.get("/api/v1/segments/fields", headers=tenant.headers)
    kinds = {f["name"]: f["kind"] for f in r.json()}
    assert (kinds["total_spent_minor"], kinds["p_alive"], kinds["last_order_date"]) == (
        "money",
        "probability",
        "date",
    )
    assert set(kinds.values()) <= {
        "text", "choice", "count", "number", "money", "probability", "days", "date", "tag",
        "yes_no", "none", "object",
    }  # fmt: skip
    assert re.fullmatch(r"[a-z_]+", kinds["tier"])
