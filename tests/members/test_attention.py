"""Fan by attention (issue 10, defect 12): portal visits, message opens and clicks raise the
engagement score (once a day, once a message), a registered member with no purchases becomes a
fan at the moment the score reaches 10, and moves back when the 90-day window leaves them under
it. Driven through the real routes: the portal, the open pixel, the click redirect, the inbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement import tokens
from patron.engagement.config import MessageSettings
from patron.engagement.messages import enqueue_message
from patron.engagement.models import InboxItem
from patron.members.attention import expire_activities_task, record_activity
from patron.members.merge import merge_members
from patron.members.models import MemberActivity
from patron.worker import TASKS
from tests.conftest import Tenant
from tests.engagement.conftest import dispatch
from tests.web.helpers import csrf_of

INBOX = {"en": {"title": "New teas", "body": "Longjing is in"}}


def _member(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    r = client.post("/api/v1/members", json={"first_name": "Lan"}, headers=tenant.headers)
    assert r.status_code == 201
    return dict(r.json())


def _shown(client: TestClient, tenant: Tenant, member_id: int) -> tuple[int, str]:
    body = client.get(f"/api/v1/members/{member_id}", headers=tenant.headers).json()
    return body["engagement_score"], body["funnel_stage"]


def _moves(client: TestClient, tenant: Tenant, member_id: int) -> list[tuple[Any, ...]]:
    rows = client.get(f"/api/v1/members/{member_id}/funnel-history", headers=tenant.headers).json()
    return [
        (r["from_stage"], r["to_stage"], datetime.fromisoformat(r["moved_at"]), r["reason"])
        for r in rows
    ]


def _messages(
    sessions: sessionmaker[Session], tenant: Tenant, member_id: int, settings: Settings
) -> list[int]:
    with transaction(sessions) as s:
        ids = [
            enqueue_message(
                s,
                tenant.merchant_id,
                member_id,
                "in_app",
                content=INBOX,
                topic="news",
                kind="transactional",
                dedupe_key=f"news:{n}",
            ).id
            for n in range(3)
        ]
    dispatch(sessions, settings, MessageSettings())
    return ids


def test_visits_opens_and_clicks_make_a_fan_who_falls_back_when_the_window_passes(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    member = _member(client, tenant)
    mid = member["id"]
    start = clock.now()
    first, second, third = _messages(sessions, tenant, mid, settings)
    link = client.post(f"/api/v1/members/{mid}/portal-link", headers=tenant.clerk_headers).json()
    portal = TestClient(client.app)
    path = urlsplit(link["url"]).path
    portal.post(path, data={"csrf_token": csrf_of(portal.get(path))})

    # Day 0: the first page view counts; a reload and another page the same day add nothing.
    assert portal.get("/portal").status_code == 200
    portal.get("/portal")
    portal.get("/portal/orders")
    assert _shown(client, tenant, mid) == (1, "member")
    for _day in (1, 2, 3):
        clock.advance(timedelta(days=1))
        portal.get("/portal")
    assert _shown(client, tenant, mid) == (4, "member")

    # Day 3: an open (the pixel twice counts once), a click on the same message (the open is
    # not counted again), then a click on an unopened message: open 1 + click 2 → 10, a fan.
    pixel = urlsplit(tokens.open_url(settings.base_url, settings.secret_key, first)).path
    assert client.get(pixel).status_code == 200
    client.get(pixel)
    assert _shown(client, tenant, mid) == (5, "member")
    for message_id in (first, second):
        click = tokens.click_url(
            settings.base_url, settings.secret_key, message_id, "https://t.example/"
        )
        assert client.get(urlsplit(click).path, follow_redirects=False).status_code == 302
    assert _shown(client, tenant, mid) == (10, "fan")
    fan_at = clock.now()
    assert _moves(client, tenant, mid)[-1] == ("member", "fan", fan_at, "message clicked")

    # Day 4: reading an inbox item is the in-app open (+1).
    clock.advance(timedelta(days=1))
    with sessions() as s:
        item = s.scalars(select(InboxItem.id).where(InboxItem.message_id == third)).one()
    page = portal.get("/portal/inbox")
    portal.post(f"/portal/inbox/{item}/read", data={"csrf_token": csrf_of(page)})
    assert _shown(client, tenant, mid) == (12, "fan")  # the day's visit, and the open

    # 90 days after day 0 only the first visit has left the window: 11, still a fan.
    assert ("members.attention_expiry", expire_activities_task) in TASKS
    clock.set(start + timedelta(days=90, minutes=1))
    assert expire_activities_task(sessions, settings) == 1
    assert _shown(client, tenant, mid) == (11, "fan")
    # Two more days: the visits of days 1 and 2 leave too (9): back to member, at that time.
    clock.set(start + timedelta(days=92, minutes=1))
    assert expire_activities_task(sessions, settings) == 2
    assert expire_activities_task(sessions, settings) == 0
    assert _shown(client, tenant, mid) == (9, "member")
    assert _moves(client, tenant, mid)[-2:] == [
        ("member", "fan", fan_at, "message clicked"),
        ("fan", "member", clock.now(), "attention older than 90 days"),
    ]
    with sessions() as s:
        kinds = s.execute(
            select(MemberActivity.kind, func.count(), func.sum(MemberActivity.points))
            .where(MemberActivity.member_id == mid)
            .group_by(MemberActivity.kind)
            .order_by(MemberActivity.kind)
        ).all()
    assert [tuple(k) for k in kinds] == [
        ("message_click", 2, 4),
        ("message_open", 3, 3),
        ("portal_visit", 5, 5),
    ]


def test_a_merge_counts_each_day_once_and_recounts_the_score(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    keep, gone = _member(client, tenant)["id"], _member(client, tenant)["id"]
    with transaction(sessions) as s:
        for member_id in (keep, gone):
            record_activity(s, tenant.merchant_id, member_id, "portal_visit", "portal_visit:d1")
        record_activity(s, tenant.merchant_id, gone, "message_click", "message_click:7")
        assert not record_activity(s, tenant.merchant_id, gone, "message_click", "message_click:7")
    with transaction(sessions) as s:
        merge_members(s, tenant.merchant_id, keep, gone)
    assert _shown(client, tenant, keep) == (3, "member")
    assert _shown(client, tenant, gone)[0] == 0
