"""Codes from the data read as words in the reader's language (issue 10, defect 8)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.i18n import Formatter, translations_for
from patron.i18n.labels import Said, consent_source_label, funnel_reason
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_loyalty, seed_member, sign_in
from tests.web.visible import visible_text


def test_funnel_reasons_and_consent_sources_are_words() -> None:
    zh = translations_for("zh_Hans").gettext
    assert funnel_reason("order A-1") == Said("Order %(ref)s", {"ref": "A-1"})
    assert zh(funnel_reason("created").msgid) == "创建资料"
    assert zh(funnel_reason("merged with member 7").msgid) % {"ref": "7"} == "与会员 #7 合并"
    assert funnel_reason("something new") == Said("Something new", {})
    assert zh(consent_source_label("portal settings")) == "会员中心设置"
    assert zh(consent_source_label("sms:STOP")) == "短信回复"
    assert consent_source_label(None) == "—"


def test_time_zone_by_its_place() -> None:
    assert Formatter("zh_Hans").zone_name("Asia/Shanghai") == "中国（上海）时间"
    assert Formatter("en").zone_name("Asia/Shanghai") == "China (Shanghai) Time"
    assert Formatter("en").zone_name("UTC") == "UTC"
    assert Formatter("en").zone_name("Not/AZone") == "Not/AZone"


def test_tier_table_names_tiers_not_people(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    member_id = seed_member(sessions, tenant, order_ref=None)
    seed_loyalty(sessions, tenant, member_id)
    sign_in(client, tenant)
    page = client.get("/programs/tiers")
    r = client.post(
        "/language",
        data={"locale": "zh_Hans", "next": "/programs/tiers", "csrf_token": csrf_of(page)},
    )
    text = visible_text(r.text)
    assert "名称" in text and "姓名" not in text
    assert "Asia/Shanghai" not in visible_text(client.get("/programs/points").text)
