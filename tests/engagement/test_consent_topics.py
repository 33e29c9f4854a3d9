"""Issue 10, defect 1: one list of consent topics per merchant; the general marketing consent
(what imports and the demo record) reaches marketing messages; unknown topics are refused;
before sending, the reach per channel comes from the dispatcher's own checks."""

from __future__ import annotations

import io
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement import library
from patron.engagement.campaigns import service as campaigns
from patron.engagement.campaigns.models import Campaign
from patron.engagement.campaigns.release import release_due
from patron.engagement.campaigns.schemas import CampaignIn
from patron.engagement.config import MessageSettings
from patron.engagement.consent import set_consent
from patron.engagement.journeys.models import Journey
from patron.engagement.models import Message
from patron.imports.runner import run_import
from patron.members.models import Member, MemberConsent
from tests.conftest import Tenant
from tests.engagement.conftest import add_member, configure, dispatch
from tests.engagement.providers import SmtpSink
from tests.imports.fixtures import SHOPIFY_CUSTOMERS

INBOX = {"en": {"title": "New teas", "body": "Spring harvest"}}
EMAIL = {"en": {"subject": "New teas", "html": "<p>Spring</p>", "text": "Spring"}}


def _answer(
    sessions: sessionmaker[Session], tenant: Tenant, member: int, topic: str, granted: bool
) -> None:
    with transaction(sessions) as s:
        set_consent(s, tenant.merchant_id, member, "in_app", topic, granted, "test")


def _four_members(sessions: sessionmaker[Session], tenant: Tenant) -> dict[str, int]:
    """general yes; general yes but promotions no; general no but promotions yes; no answer."""
    ids = {name: add_member(sessions, tenant.merchant_id, first_name=name) for name in "ABCD"}
    _answer(sessions, tenant, ids["A"], "marketing", True)
    _answer(sessions, tenant, ids["B"], "marketing", True)
    _answer(sessions, tenant, ids["B"], "promotions", False)
    _answer(sessions, tenant, ids["C"], "marketing", False)
    _answer(sessions, tenant, ids["C"], "promotions", True)
    return ids


def _campaign(
    sessions: sessionmaker[Session], tenant: Tenant, members: list[int], **fields: object
) -> int:
    with transaction(sessions) as s:
        template = library.create_template(s, tenant.merchant_id, "Teas", "in_app", INBOX)
        data = CampaignIn(
            name="New tea season",
            member_ids=members,
            channel="in_app",
            template_id=template.id,
            **fields,  # type: ignore[arg-type]
        )
        return campaigns.create_campaign(s, tenant.merchant_id, data).id


def _launch_and_send(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    campaign_id: int,
    clock: FrozenClock,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    with transaction(sessions) as s:
        campaigns.launch(s, tenant.merchant_id, campaign_id)
    for _ in range(5):
        with transaction(sessions) as s:
            release_due(s)
        clock.advance(timedelta(seconds=10))
    dispatch(sessions, settings, cfg)


def _outcomes(sessions: sessionmaker[Session]) -> dict[int, tuple[str, str | None]]:
    with sessions() as s:
        return {m.member_id: (m.status, m.status_reason) for m in s.scalars(select(Message)).all()}


def test_general_marketing_consent_reaches_a_campaign_and_a_topic_answer_overrides_it(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    clock: FrozenClock,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    ids = _four_members(sessions, tenant)
    campaign_id = _campaign(sessions, tenant, list(ids.values()), topic="promotions")
    _launch_and_send(sessions, tenant, campaign_id, clock, settings, cfg)
    assert _outcomes(sessions) == {
        ids["A"]: ("sent", None),  # the general yes counts: promotions never answered
        ids["B"]: ("skipped", "consent"),  # the topic's own no wins over the general yes
        ids["C"]: ("sent", None),  # the topic's own yes wins over the general no
        ids["D"]: ("skipped", "consent"),  # marketing needs an opt-in
    }


def test_a_new_campaign_is_on_the_general_topic_by_default(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    clock: FrozenClock,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    ids = _four_members(sessions, tenant)
    campaign_id = _campaign(sessions, tenant, list(ids.values()))
    with sessions() as s:
        assert s.get(Campaign, campaign_id).topic == "marketing"  # type: ignore[union-attr]
    _launch_and_send(sessions, tenant, campaign_id, clock, settings, cfg)
    assert _outcomes(sessions) == {
        ids["A"]: ("sent", None),
        ids["B"]: ("sent", None),
        ids["C"]: ("skipped", "consent"),
        ids["D"]: ("skipped", "consent"),
    }


def _consents(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(MemberConsent)) or 0)


def test_unknown_topics_are_refused_by_the_api_and_nothing_changes(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    r = client.put(
        f"/api/v1/members/{member}/consents",
        json={"channel": "sms", "topic": "secrets", "granted": True},
        headers=tenant.headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_topic"
    assert "marketing" in r.json()["error"]["message"]
    assert _consents(sessions) == 0
    ok = client.put(
        f"/api/v1/members/{member}/consents",
        json={"channel": "sms", "topic": "birthday", "granted": True},
        headers=tenant.headers,
    )
    assert ok.status_code == 200 and _consents(sessions) == 1

    with transaction(sessions) as s:
        template = library.create_template(s, tenant.merchant_id, "T", "in_app", INBOX)
    body = {"name": "X", "member_ids": [member], "channel": "in_app", "template_id": template.id}
    r = client.post("/api/v1/campaigns", json=body | {"topic": "tea"}, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_topic"
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 0

    step = {"id": "s", "type": "send", "channel": "in_app", "content": INBOX, "topic": "nope"}
    journey = {"name": "J", "trigger": {"event": "member.created"}, "steps": [step]}
    r = client.post("/api/v1/journeys", json=journey, headers=tenant.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_topic"
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Journey)) == 0


def test_accepts_email_marketing_from_a_shopify_import_reaches_an_email_campaign(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    clock: FrozenClock,
    settings: Settings,
    cfg: MessageSettings,
    smtp: SmtpSink,
) -> None:
    with transaction(sessions) as s:
        run_import(
            s,
            tenant.merchant_id,
            "customers",
            io.BytesIO(SHOPIFY_CUSTOMERS.encode()),
            fmt="shopify",
        )
    configure(sessions, tenant.merchant_id, "email", smtp.credentials)
    with transaction(sessions) as s:
        members = list(s.scalars(select(Member.id).where(Member.merchant_id == tenant.merchant_id)))
        template = library.create_template(s, tenant.merchant_id, "Spring", "email", EMAIL)
        campaign = campaigns.create_campaign(
            s,
            tenant.merchant_id,
            CampaignIn(
                name="Spring",
                member_ids=members,
                channel="email",
                template_id=template.id,
                topic="promotions",
            ),
        )
    _launch_and_send(sessions, tenant, campaign.id, clock, settings, cfg)
    # Mei accepted email marketing: she gets it; Tom and the quiet customer said no.
    assert sorted(str(m["To"]) for m in smtp.messages) == ["mei.chen@example.com"]
    with sessions() as s:
        reasons = sorted((m.status, m.status_reason) for m in s.scalars(select(Message)).all())
    assert reasons == [("sent", None), ("skipped", "consent"), ("skipped", "consent")]
