"""Consent topics: the API and the dashboard page (owner/manager edit, clerk cannot; another
merchant's topic is a 404), the portal's switches from the merchant's list in the member's
language, and a journey page's per-step counts and reach."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.consent import set_consent
from patron.engagement.journeys import service as journeys
from patron.members import topics
from patron.members.models import ConsentTopic
from tests.conftest import Tenant
from tests.engagement.conftest import add_member
from tests.web.helpers import add_staff, csrf_of, sign_in, sign_in_as
from tests.web.test_engagement_pages import _portal


def _topic(sessions: sessionmaker[Session], merchant_id: int, code: str) -> ConsentTopic:
    with sessions() as s:
        topics.ensure_topics(s, merchant_id)
        s.commit()
        found = s.scalar(
            select(ConsentTopic).where(
                ConsentTopic.merchant_id == merchant_id, ConsentTopic.code == code
            )
        )
        assert found is not None
        return found


def test_topics_api_lists_adds_relabels_within_the_merchant(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant
) -> None:
    listed = client.get("/api/v1/consent-topics", headers=tenant.clerk_headers)
    assert listed.status_code == 200
    codes = [t["code"] for t in listed.json()]
    assert codes[:2] == ["marketing", "promotions"] and len(codes) == 11
    general = listed.json()[0]
    assert general["labels"] == {"en": "Offers and news", "zh_Hans": "优惠与新品资讯"}
    assert general["marketing"] is True
    assert {t["code"]: t["marketing"] for t in listed.json()}["aftercare"] is False

    new = {"code": "tea_club", "labels": {"en": "Tea club", "zh_Hans": "茶友会"}}
    assert (
        client.post("/api/v1/consent-topics", json=new, headers=tenant.clerk_headers).status_code
        == 403
    )
    made = client.post("/api/v1/consent-topics", json=new, headers=tenant.headers)
    assert made.status_code == 201
    assert (made.json()["code"], made.json()["marketing"], made.json()["position"]) == (
        "tea_club",
        True,
        11,
    )
    again = client.post("/api/v1/consent-topics", json=new, headers=tenant.headers)
    assert again.status_code == 409
    bad = client.post("/api/v1/consent-topics", json={"code": "Tea Club!"}, headers=tenant.headers)
    assert bad.status_code == 422

    # The other merchant has its own list, without tea_club; A's topic id is not B's.
    theirs = client.get("/api/v1/consent-topics", headers=other_tenant.headers).json()
    assert "tea_club" not in [t["code"] for t in theirs]
    topic_id = made.json()["id"]
    foreign = client.patch(
        f"/api/v1/consent-topics/{topic_id}",
        json={"labels": {"en": "Stolen"}},
        headers=other_tenant.headers,
    )
    assert foreign.status_code == 404
    assert _topic(sessions, tenant.merchant_id, "tea_club").labels["en"] == "Tea club"
    r = client.patch(
        f"/api/v1/consent-topics/{topic_id}",
        json={"labels": {"zh_Hans": "茶友俱乐部"}, "marketing": False},
        headers=tenant.headers,
    )
    assert r.status_code == 200
    assert r.json()["labels"] == {"en": "Tea club", "zh_Hans": "茶友俱乐部"}
    general_id = _topic(sessions, tenant.merchant_id, "marketing").id
    refused = client.patch(
        f"/api/v1/consent-topics/{general_id}", json={"marketing": False}, headers=tenant.headers
    )
    assert refused.status_code == 422
    assert _topic(sessions, tenant.merchant_id, "marketing").marketing is True


def test_topics_page_owner_adds_and_relabels_clerk_cannot(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant
) -> None:
    sign_in(client, tenant)
    page = client.get("/message-settings/topics")
    assert page.status_code == 200
    assert 'data-topic="marketing" data-marketing="true"' in page.text
    assert 'value="优惠与新品资讯"' in page.text
    token = csrf_of(page)
    r = client.post(
        "/message-settings/topics",
        data={
            "csrf_token": token,
            "code": "tea_club",
            "label_en": "Tea club",
            "label_zh": "茶友会",
            "marketing": "true",
        },
    )
    assert r.status_code == 200 and "Topic added." in r.text
    assert _topic(sessions, tenant.merchant_id, "tea_club").labels == {
        "en": "Tea club",
        "zh_Hans": "茶友会",
    }
    bad = client.post(
        "/message-settings/topics",
        data={"csrf_token": token, "code": "Bad code", "label_en": "x"},
    )
    assert "Not saved" in bad.text
    with sessions() as s:
        assert "Bad code" not in topics.topic_codes(s, tenant.merchant_id)
    birthday = _topic(sessions, tenant.merchant_id, "birthday")
    r = client.post(
        f"/message-settings/topics/{birthday.id}",
        data={
            "csrf_token": token,
            "label_en": "Birthday treats",
            "label_zh": "生日惊喜",
            "marketing": "true",
        },
    )
    assert "Topic saved." in r.text
    assert _topic(sessions, tenant.merchant_id, "birthday").labels == {
        "en": "Birthday treats",
        "zh_Hans": "生日惊喜",
    }
    theirs = _topic(sessions, other_tenant.merchant_id, "birthday")
    r = client.post(
        f"/message-settings/topics/{theirs.id}",
        data={"csrf_token": token, "label_en": "Stolen", "marketing": "true"},
    )
    assert r.status_code == 404
    assert _topic(sessions, other_tenant.merchant_id, "birthday").labels["en"] == "Birthday gifts"

    client.post("/logout", data={"csrf_token": token})
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    assert client.get("/message-settings/topics").status_code == 403
    home = client.get("/dashboard")
    r = client.post(
        f"/message-settings/topics/{birthday.id}",
        data={"csrf_token": csrf_of(home), "label_en": "Clerk was here", "marketing": "true"},
    )
    assert r.status_code == 403
    assert _topic(sessions, tenant.merchant_id, "birthday").labels["en"] == "Birthday treats"


def test_portal_switches_follow_the_general_answer_in_the_members_language(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, settings: Settings
) -> None:
    member = add_member(sessions, tenant.merchant_id, first_name="Mei", locale="zh_Hans")
    with transaction(sessions) as s:
        set_consent(s, tenant.merchant_id, member, "email", "marketing", True, "import")
        set_consent(s, tenant.merchant_id, member, "email", "birthday", False, "portal")
    _portal(client, sessions, tenant, member, settings)
    page = client.get("/portal/notifications")
    assert page.status_code == 200
    promotions = page.text[page.text.index('data-topic="email-promotions"') :][:400]
    assert 'data-on="true"' in promotions and "促销活动" in promotions
    birthday = page.text[page.text.index('data-topic="email-birthday"') :][:400]
    assert 'data-on="false"' in birthday
    aftercare = page.text[page.text.index('data-topic="sms-aftercare"') :][:400]
    assert 'data-on="true"' in aftercare  # a service topic goes until the member says no
    sms = page.text[page.text.index('data-topic="sms-promotions"') :][:400]
    assert 'data-on="false"' in sms


def test_journey_page_shows_each_send_steps_counts_and_reach(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    yes = add_member(sessions, tenant.merchant_id, first_name="Yes")
    add_member(sessions, tenant.merchant_id, first_name="No")
    with transaction(sessions) as s:
        set_consent(s, tenant.merchant_id, yes, "in_app", "marketing", True, "test")
        journey = journeys.create_from_library(
            s, tenant.merchant_id, "festival", {"festival": "mid_autumn"}, "Mid-autumn"
        )
    sign_in(client, tenant)
    page = client.get(f"/journeys/{journey.id}")
    assert page.status_code == 200
    block = page.text[page.text.index('data-step="greet"') :]
    assert (
        '<div class="stat" data-count="delivered"><div class="label">Delivered</div>'
        '<div class="value">0</div>' in block
    )
    row = block[block.index('<tr data-channel="in_app">') :][:700]
    assert '<td class="num" data-reach="reached"><b>1</b></td>' in row
    assert '<td class="num" data-reach="consent">1</td>' in row
    api = client.get(f"/api/v1/journeys/{journey.id}/reach", headers=tenant.headers).json()
    assert api["steps"]["greet"]["reached"] == 1 and api["members"] == 2
    stats = client.get(f"/api/v1/journeys/{journey.id}/stats", headers=tenant.headers).json()
    assert stats["messages"]["greet"]["total"] == 0
