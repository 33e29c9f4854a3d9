"""Engagement pages over HTTP, on SQLite and PostgreSQL: segments, messages, settings, portal."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement import library, messages, policy, tokens
from patron.engagement.models import (
    ChannelSetting,
    InboxItem,
    Message,
    MessageEvent,
    MessageTemplate,
)
from patron.engagement.segments import service as segments
from patron.engagement.segments.models import Segment
from patron.members import service as members
from patron.members.schemas import MemberUpdate
from patron.portal import service as portal
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, seed_member, sign_in

VIP = {"all": [{"field": "tag", "op": "has", "value": "vip"}]}


def _two_members(sessions: sessionmaker[Session], tenant: Tenant) -> tuple[int, int]:
    mei = seed_member(sessions, tenant, tags=["vip"])
    lin = seed_member(
        sessions, tenant, first="Lin", last="Wu", phone="+8613900139000", email=None, order_ref=None
    )
    return mei, lin


def test_segment_list_and_detail_show_service_data(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    mei, _lin = _two_members(sessions, tenant)
    with transaction(sessions) as s:
        seg = segments.create_segment(s, tenant.merchant_id, "VIP shoppers", VIP, "big spenders")
        seg_id = seg.id
    sign_in(client, tenant)
    page = client.get("/segments")
    assert page.status_code == 200
    assert "VIP shoppers" in page.text and "big spenders" in page.text
    assert f'href="/segments/{seg_id}"' in page.text
    detail = client.get(f"/segments/{seg_id}")
    assert detail.status_code == 200
    assert f'href="/members/{mei}"' in detail.text and "Mei Chen" in detail.text
    assert "Lin Wu" not in detail.text
    assert "Has the tag “vip”" in detail.text


def test_live_count_is_exact_and_needs_csrf(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    _two_members(sessions, tenant)
    sign_in(client, tenant)
    token = csrf_of(client.get("/segments/new"))
    body = {"join": "all", "r0-field": "tag", "r0-op": "has", "r0-value": "vip"}
    r = client.post("/segments/preview", data=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    assert r.json() == {"count": 1, "time_relative": False}
    body |= {"join": "any", "r1-field": "orders_count", "r1-op": "eq", "r1-value": "0"}
    r = client.post("/segments/preview", data=body, headers={"X-CSRF-Token": token})
    assert r.json()["count"] == 2
    refused = client.post("/segments/preview", data=body)
    assert refused.status_code == 403
    bad = {"join": "all", "r0-field": "shoe_size", "r0-op": "eq", "r0-value": "9"}
    r = client.post("/segments/preview", data=bad, headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.json()["error"] == "Rule 1: Choose a field."


def test_builder_count_button_and_save_without_js(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], db: Session
) -> None:
    _two_members(sessions, tenant)
    sign_in(client, tenant)
    token = csrf_of(client.get("/segments/new"))
    form = {
        "csrf_token": token,
        "name": "VIP",
        "join": "all",
        "r0-field": "tag",
        "r0-op": "has",
        "r0-value": "vip",
    }
    counted = client.post("/segments/save", data={**form, "action": "count"})
    assert counted.status_code == 200
    assert '<strong class="v" id="live-count">1</strong>' in counted.text
    added = client.post("/segments/save", data={**form, "action": "add"})
    assert added.text.count('class="rule-row"') == 2
    bad = client.post(
        "/segments/save",
        data={
            **form,
            "r1-field": "orders_count",
            "r1-op": "has",
            "r1-value": "3",
            "action": "save",
        },
    )
    assert bad.status_code == 422
    assert "Rule 2: Choose a condition." in bad.text
    assert 'id="rule-error"' in bad.text
    assert db.scalar(select(func.count()).select_from(Segment)) == 0
    saved = client.post("/segments/save", data={**form, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    db.rollback()
    seg = db.scalars(select(Segment)).one()
    assert (seg.name, seg.rules, seg.member_count) == ("VIP", VIP, 1)
    assert saved.headers["location"] == f"/segments/{seg.id}"


def test_other_merchant_gets_404_for_a_segment(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as s:
        seg_id = segments.create_segment(s, tenant.merchant_id, "VIP", VIP).id
    sign_in(client, other_tenant)
    assert client.get(f"/segments/{seg_id}").status_code == 404
    assert client.get(f"/segments/{seg_id}/edit").status_code == 404
    token = csrf_of(client.get("/segments"))
    r = client.post(f"/segments/{seg_id}/refresh", data={"csrf_token": token})
    assert r.status_code == 404
    r = client.post(
        "/segments/save",
        data={
            "csrf_token": token,
            "segment_id": str(seg_id),
            "name": "Taken",
            "join": "all",
            "r0-field": "everyone",
            "r0-op": "eq",
        },
    )
    assert r.status_code == 404
    with sessions() as s:
        assert segments.get_segment(s, tenant.merchant_id, seg_id).name == "VIP"


def _message(
    sessions: sessionmaker[Session], tenant: Tenant, member_id: int, key: str, **change: object
) -> int:
    """A message queued through the pipeline; ``change`` sets where the worker left it (what a
    provider's answer or exhausted retries would have written)."""
    with transaction(sessions) as s:
        msg = messages.enqueue_message(
            s,
            tenant.merchant_id,
            member_id,
            "in_app",
            topic="promotions",
            kind="marketing",
            dedupe_key=key,
            content={"en": {"title": "Hello {{ member.first_name }}", "body": "New coats"}},
        )
        for name, value in change.items():
            setattr(msg, name, value)
        return msg.id


def test_member_panel_and_messages_page_with_filters(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    mei, lin = _two_members(sessions, tenant)
    sent = _message(sessions, tenant, mei, "k1", status="sent", sent_at=clock.now())
    skipped = _message(sessions, tenant, mei, "k2", status="skipped", status_reason="frequency_cap")
    other = _message(sessions, tenant, lin, "k3")
    sign_in(client, tenant)
    page = client.get(f"/members/{mei}")
    panel = page.text[page.text.index('id="messages"') :]
    assert f'id="message-{sent}"' in panel and f'id="message-{skipped}"' in panel
    assert "frequency_cap" in panel and f'id="message-{other}"' not in panel
    assert "In-app" in panel and "Skipped" in panel
    # The topic in the merchant's words, in the reader's language (not its code).
    assert '<div class="muted small">Promotions</div>' in panel
    client.post("/language", data={"locale": "zh_Hans", "next": "/", "csrf_token": csrf_of(page)})
    zh = client.get(f"/members/{mei}").text
    zh_panel = zh[zh.index('id="messages"') :]
    assert '<div class="muted small">促销活动</div>' in zh_panel
    assert '<div class="muted small">promotions</div>' not in zh_panel
    client.post("/language", data={"locale": "en", "next": "/", "csrf_token": csrf_of(page)})
    log = client.get("/messages?status=skipped&channel=in_app")
    assert log.status_code == 200
    body = log.text[log.text.index('id="message-log"') :]
    assert f'id="message-{skipped}"' in body
    assert f'id="message-{sent}"' not in body and f'id="message-{other}"' not in body
    everything = client.get("/messages")
    for mid in (sent, skipped, other):
        assert f'id="message-{mid}"' in everything.text
    assert "dead-letters" not in everything.text


def test_dead_letter_retry_changes_status_once(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], db: Session
) -> None:
    mei, _lin = _two_members(sessions, tenant)
    dead = _message(sessions, tenant, mei, "k1", status="dead", last_error="timeout x5")
    sign_in(client, tenant)
    page = client.get("/messages")
    section = page.text[page.text.index('id="dead-letters"') : page.text.index('id="message-log"')]
    assert f'action="/messages/{dead}/retry"' in section
    r = client.post(f"/messages/{dead}/retry", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 200 and "The message is queued again." in r.text
    again = client.post(f"/messages/{dead}/retry", data={"csrf_token": csrf_of(page)})
    assert "Only dead or unknown messages can be retried." in again.text
    msg = db.get(Message, dead)
    assert msg is not None
    assert (msg.status, msg.generation, msg.status_reason) == ("queued", 1, "manual retry")
    events = db.scalars(select(MessageEvent.type).where(MessageEvent.message_id == dead)).all()
    assert events.count("retry") == 1


def test_other_merchant_gets_404_for_a_message(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    mei, _lin = _two_members(sessions, tenant)
    dead = _message(sessions, tenant, mei, "k1", status="dead")
    sign_in(client, other_tenant)
    page = client.get("/messages")
    assert f"message-{dead}" not in page.text
    r = client.post(f"/messages/{dead}/retry", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 404


def test_channel_secrets_are_never_echoed_and_blank_keeps_them(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    sign_in(client, tenant)
    page = client.get("/message-settings")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_of(page),
        "enabled": "on",
        "cred_account_sid": "AC123",
        "cred_auth_token": "s3cret-token-value",
        "cred_from_number": "+15550001111",
    }
    r = client.post("/message-settings/channels/sms", data=form)
    assert r.status_code == 200 and "Channel settings saved." in r.text
    assert "s3cret-token-value" not in r.text
    assert 'data-secret="auth_token"' in r.text and 'value="AC123"' in r.text
    # Saving again with the secret box left blank keeps the stored secret.
    r = client.post("/message-settings/channels/sms", data={**form, "cred_auth_token": ""})
    assert "s3cret-token-value" not in r.text
    row = db.scalars(select(ChannelSetting)).one()
    assert row.credentials == {
        "account_sid": "AC123",
        "auth_token": "s3cret-token-value",
        "from_number": "+15550001111",
        "honours_idempotency_key": False,
    }
    assert row.enabled is True


def test_quiet_hours_and_cap_are_saved_through_the_policy(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    sign_in(client, tenant)
    token = csrf_of(client.get("/message-settings"))
    form = {
        "csrf_token": token,
        "cap_messages": "3",
        "cap_window_days": "14",
        "care_cap_messages": "1",
        "quiet_start": "22:00",
        "quiet_end": "08:30",
        "quiet_hours_enabled": "on",
    }
    r = client.post("/message-settings/policy", data=form)
    assert "Quiet hours and caps saved." in r.text
    assert 'value="22:00"' in r.text and 'value="08:30"' in r.text and 'value="14"' in r.text
    assert 'name="care_cap_messages" value="1"' in r.text
    current = policy.policy_for(db, tenant.merchant_id)
    assert (current.cap_messages, current.cap_window_days, current.care_cap_messages) == (3, 14, 1)
    assert current.quiet_start.strftime("%H:%M") == "22:00"
    bad = client.post("/message-settings/policy", data={**form, "quiet_end": "8h"})
    assert "Not saved: quiet_end: use HH:MM" in bad.text
    db.rollback()
    assert policy.policy_for(db, tenant.merchant_id).quiet_end.strftime("%H:%M") == "08:30"


def test_template_editor_refuses_unknown_variables_and_previews_for_a_member(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], db: Session
) -> None:
    mei, _lin = _two_members(sessions, tenant)
    sign_in(client, tenant)
    token = csrf_of(client.get("/templates/new?channel=in_app"))
    form = {
        "csrf_token": token,
        "channel": "in_app",
        "name": "Welcome",
        "en__title": "Hi {{ member.first_name }}",
        "en__body": "Your code is {{ member.shoe_size }}",
    }
    bad = client.post("/templates/save", data=form)
    assert bad.status_code == 422 and 'id="template-error"' in bad.text
    assert "shoe_size" in bad.text
    assert db.scalar(select(func.count()).select_from(MessageTemplate)) == 0
    form["en__body"] = "Welcome to the club"
    form["zh_Hans__title"] = "{{ member.first_name }}，你好"
    form["zh_Hans__body"] = "欢迎加入"
    ok = client.post("/templates/save", data=form, follow_redirects=False)
    assert ok.status_code == 303
    db.rollback()
    saved = db.scalars(select(MessageTemplate)).one()
    assert saved.variants["en"] == {
        "title": "Hi {{ member.first_name }}",
        "body": "Welcome to the club",
    }
    listing = client.get("/templates")
    assert "Welcome" in listing.text and "中文" in listing.text
    preview = client.get(f"/templates/{saved.id}?member={mei}&locale=en")
    shown = preview.text[preview.text.index('id="preview"') :]
    assert "Hi Mei" in shown and "Welcome to the club" in shown


def test_other_merchant_gets_404_for_a_template(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as s:
        template = library.create_template(
            s, tenant.merchant_id, "Hi", "in_app", {"en": {"title": "Hi", "body": "Yo"}}
        )
        template_id = template.id
    sign_in(client, other_tenant)
    assert client.get(f"/templates/{template_id}").status_code == 404
    token = csrf_of(client.get("/templates"))
    r = client.post(
        "/templates/save",
        data={"csrf_token": token, "template_id": str(template_id), "en__title": "x"},
    )
    assert r.status_code == 404


def _inbox_item(
    sessions: sessionmaker[Session], tenant: Tenant, member_id: int, key: str, title: str
) -> int:
    """A message and the inbox row the in-app channel writes when it is sent."""
    message_id = _message(sessions, tenant, member_id, key, status="sent")
    with transaction(sessions) as s:
        msg = s.get(Message, message_id)
        assert msg is not None
        item = InboxItem(
            merchant_id=tenant.merchant_id,
            member_id=member_id,
            message_id=message_id,
            title=title,
            body=f"{title} body",
            created_at=msg.created_at,
        )
        s.add(item)
        s.flush()
        return item.id


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
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_of(page)})


def test_portal_inbox_shows_only_own_items_and_marks_read(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    db: Session,
) -> None:
    mei, lin = _two_members(sessions, tenant)
    mine = _inbox_item(sessions, tenant, mei, "k1", "Spring sale")
    theirs = _inbox_item(sessions, tenant, lin, "k2", "Lin only")
    _portal(client, sessions, tenant, mei, settings)
    page = client.get("/portal/inbox")
    assert page.status_code == 200
    assert "Spring sale" in page.text and "Lin only" not in page.text
    assert f'id="item-{mine}"' in page.text and "unread" in page.text
    assert (
        client.post(f"/portal/inbox/{theirs}/read", data={"csrf_token": csrf_of(page)}).status_code
        == 404
    )
    r = client.post(f"/portal/inbox/{mine}/read", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 200 and "Mark read" not in r.text
    db.rollback()
    assert db.get(InboxItem, mine).read_at is not None  # type: ignore[union-attr]
    assert db.get(InboxItem, theirs).read_at is None  # type: ignore[union-attr]


def test_portal_notification_preferences_per_channel_and_topic(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    db: Session,
) -> None:
    mei, _lin = _two_members(sessions, tenant)
    _portal(client, sessions, tenant, mei, settings)
    page = client.get("/portal/notifications")
    assert page.status_code == 200 and "Birthday gifts" in page.text
    r = client.post(
        "/portal/notifications",
        data={
            "csrf_token": csrf_of(page),
            "channel": "sms",
            "topic": "birthday",
            "granted": "true",
        },
    )
    assert "Your message settings are saved." in r.text
    row = r.text[r.text.index('data-topic="sms-birthday"') :][:900]
    assert "Turn off" in row
    db.rollback()
    rows = {(c.channel, c.topic): c.granted for c in members.consents(db, tenant.merchant_id, mei)}
    assert rows == {("sms", "birthday"): True}
    refused = client.post(
        "/portal/notifications",
        data={"csrf_token": csrf_of(page), "channel": "sms", "topic": "secrets", "granted": "true"},
    )
    assert refused.status_code == 404


def test_unsubscribe_landing_page_in_portal_style_and_chinese_strings(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    mei, _lin = _two_members(sessions, tenant)
    url = tokens.unsubscribe_url(
        settings.base_url, settings.secret_key, tenant.merchant_id, mei, "email", "promotions"
    )
    page = client.get(url.removeprefix(settings.base_url))
    assert page.status_code == 200 and 'class="center-page"' in page.text
    # The merchant's own words for the topic (its consent topic's label), in the member's language.
    assert "Stop receiving “Promotions” by Email?" in page.text
    with transaction(sessions) as s:
        members.update_member(s, tenant.merchant_id, mei, MemberUpdate(locale="zh-CN"))
    page = client.get(url.removeprefix(settings.base_url))
    assert '<html lang="zh-Hans">' in page.text and "退订" in page.text
    assert "“促销活动”" in page.text and "promotions" not in page.text
    done = client.post(url.removeprefix(settings.base_url), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and 'class="center-page"' in done.text
    sign_in(client, tenant)
    token = csrf_of(client.get("/segments"))
    zh = client.post(
        "/language", data={"locale": "zh_Hans", "next": "/segments", "csrf_token": token}
    )
    assert "分群" in zh.text and "新建分群" in zh.text
    assert "消息设置" in client.get("/message-settings").text
    assert "死信" not in client.get("/messages").text and "消息" in client.get("/messages").text
