"""Care messages are capped and deduplicated; transactional ones never are (issue 10, defect 13).

The rule (ADR 0412): care messages have their own cap (default 2 per 7-day window, beside the
marketing cap's 2); the after-sales journey runs at most once per member per 30 days; receipts
and other transactional notices are never capped.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.config import MessageSettings
from patron.engagement.journeys import engine, triggers
from patron.engagement.journeys.models import JourneyEnrolment
from patron.engagement.messages import enqueue_message
from patron.engagement.models import Message
from tests.conftest import Tenant
from tests.engagement.conftest import add_member, dispatch, grant, message

INBOX = {"en": {"title": "Hello {{ member.first_name }}", "body": "News"}}
# Twelve purchases within four weeks (days after the first).
BUYING_DAYS = (0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27)


def _order(client: TestClient, tenant: Tenant, member_id: int, ref: str) -> None:
    r = client.post(
        "/api/v1/orders",
        json={
            "external_id": ref,
            "member_id": member_id,
            "lines": [{"sku": "lj", "name": "Longjing", "quantity": 1, "unit_price_minor": 8800}],
        },
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text


def _care(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as s:
        rows = s.execute(
            select(Message.dedupe_key, Message.status, Message.kind).order_by(Message.id)
        )
        return [(str(k).rsplit(":", 1)[-1], str(st), str(kind)) for k, st, kind in rows]


def test_twelve_purchases_in_a_month_bring_one_after_sales_series(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
    cfg: MessageSettings,
    clock: FrozenClock,
) -> None:
    h = tenant.headers
    journey = client.post(
        "/api/v1/journeys/from-library",
        json={"key": "after_sales", "params": {"days": 7}},
        headers=h,
    ).json()
    assert (journey["reentry"], journey["reentry_days"]) == ("after_days", 30)
    client.post(f"/api/v1/journeys/{journey['id']}/switch", json={"on": True}, headers=h)
    member = client.post("/api/v1/members", json={"first_name": "Mei"}, headers=h).json()
    buying = {*BUYING_DAYS, 31}  # and once more a month after the first
    for day in range(47):
        if day in buying:
            _order(client, tenant, member["id"], f"A-{day}")
        with transaction(sessions) as s:
            triggers.follow_events(s)
        engine.run_due(sessions)
        dispatch(sessions, settings, cfg)
        if day == 30:
            # Twelve purchases in the month: one series, two care messages, both delivered.
            assert _care(sessions) == [("how", "sent", "care"), ("review", "sent", "care")]
        clock.advance(timedelta(days=1))

    assert _care(sessions) == [("how", "sent", "care"), ("review", "sent", "care")] * 2
    with sessions() as s:
        entered = s.scalars(select(JourneyEnrolment.entered_at).order_by(JourneyEnrolment.id))
        assert [(t - clock.now()).days for t in entered] == [-47, -16]


def _enqueue(
    sessions: sessionmaker[Session], tenant: Tenant, member_id: int, key: str, kind: str, topic: str
) -> int:
    with transaction(sessions) as s:
        return enqueue_message(
            s,
            tenant.merchant_id,
            member_id,
            "in_app",
            content=INBOX,
            topic=topic,
            kind=kind,
            dedupe_key=key,
        ).id


def test_care_has_its_own_cap_and_transactional_is_never_capped(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    settings: Settings,
    cfg: MessageSettings,
    clock: FrozenClock,
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    grant(sessions, tenant.merchant_id, member, "in_app", "promotions")
    care = [
        _enqueue(sessions, tenant, member, f"care{i}", "care", topic)
        for i, topic in enumerate(("aftercare", "tiers", "points"))
    ]
    offers = [
        _enqueue(sessions, tenant, member, f"m{i}", "marketing", "promotions") for i in (1, 2)
    ]
    receipts = [
        _enqueue(sessions, tenant, member, f"receipt{i}", "transactional", "orders")
        for i in range(10)
    ]

    assert dispatch(sessions, settings, cfg) == 15

    assert [message(sessions, i).status for i in care] == ["sent", "sent", "skipped"]
    assert message(sessions, care[2]).status_reason == "frequency_cap"
    # The care messages did not use up the marketing allowance, nor the reverse.
    assert [message(sessions, i).status for i in offers] == ["sent", "sent"]
    assert [message(sessions, i).status for i in receipts] == ["sent"] * 10

    # The window rolls: a week later care has room again; receipts still go, however many.
    clock.advance(timedelta(days=7, minutes=1))
    later = _enqueue(sessions, tenant, member, "care3", "care", "aftercare")
    more = [
        _enqueue(sessions, tenant, member, f"receipt-b{i}", "transactional", "orders")
        for i in range(5)
    ]
    dispatch(sessions, settings, cfg)
    assert message(sessions, later).status == "sent"
    assert [message(sessions, i).status for i in more] == ["sent"] * 5
