"""Issue 10, defect 2: counts show queued, sent, delivered, skipped (by reason), failed and
unknown apart — in the API and on the pages — and a campaign whose every message was skipped
never says "Sent". The reach preview and the sending agree (one code path)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement import library
from patron.engagement.campaigns import service as campaigns
from patron.engagement.campaigns.release import release_due
from patron.engagement.campaigns.schemas import CampaignIn
from patron.engagement.config import MessageSettings
from patron.engagement.consent import set_consent
from tests.conftest import Tenant
from tests.engagement.conftest import add_member, dispatch
from tests.web.helpers import sign_in

INBOX = {"en": {"title": "New teas", "body": "Spring harvest"}}


def _campaign(sessions: sessionmaker[Session], tenant: Tenant, members: list[int]) -> int:
    with transaction(sessions) as s:
        template = library.create_template(s, tenant.merchant_id, "Teas", "in_app", INBOX)
        data = CampaignIn(
            name="New tea season",
            member_ids=members,
            channel="in_app",
            template_id=template.id,
            topic="promotions",
        )
        return campaigns.create_campaign(s, tenant.merchant_id, data).id


def _send(
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


def test_a_campaign_whose_every_message_was_skipped_never_says_sent(
    client: TestClient,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    clock: FrozenClock,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    members = [add_member(sessions, tenant.merchant_id, first_name=f"M{i}") for i in range(3)]
    campaign_id = _campaign(sessions, tenant, members)  # nobody agreed to anything
    _send(sessions, tenant, campaign_id, clock, settings, cfg)

    r = client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=tenant.headers)
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["treated"], body["released"]) == ("sent", 3, 3)
    assert body["messages"] == {
        "queued": 0,
        "sent": 0,
        "delivered": 0,
        "skipped": 3,
        "failed": 0,
        "unknown": 0,
        "total": 3,
        "held": 0,
        "outcome": "nothing_sent",
        "skipped_by_reason": {"consent": 3},
        "failed_by_reason": {},
    }
    sign_in(client, tenant)
    page = client.get(f"/campaigns/{campaign_id}")
    head = page.text[page.text.index("<h1>") : page.text.index("</h1>")]
    assert 'data-status="nothing_sent"' in head and "Nothing sent" in head
    assert ">Sent<" not in head
    assert (
        '<div class="stat" data-count="skipped"><div class="label">Skipped</div>'
        '<div class="value">3</div>' in page.text
    )
    assert '<li data-skipped="consent">Skipped: No consent <b>3</b></li>' in page.text
    listing = client.get("/campaigns")
    assert 'data-status="nothing_sent"' in listing.text
    assert '<td class="num" data-count="delivered">0</td>' in listing.text
    messages = client.get("/messages")
    assert (
        '<div class="stat" data-count="skipped"><div class="label">Skipped</div>'
        '<div class="value">3</div>' in messages.text
    )
    assert 'data-reason="consent">No consent</div>' in messages.text


def test_reach_before_launch_matches_what_the_sending_does(
    client: TestClient,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    clock: FrozenClock,
    settings: Settings,
    cfg: MessageSettings,
) -> None:
    yes = [add_member(sessions, tenant.merchant_id, first_name=f"Y{i}") for i in range(3)]
    no = [add_member(sessions, tenant.merchant_id, first_name=f"N{i}") for i in range(2)]
    with_email = add_member(sessions, tenant.merchant_id, first_name="E", email="e@x.test")
    with transaction(sessions) as s:
        for m in [*yes, with_email]:
            set_consent(s, tenant.merchant_id, m, "in_app", "marketing", True, "test")
            set_consent(s, tenant.merchant_id, m, "email", "marketing", True, "test")
    campaign_id = _campaign(sessions, tenant, [*yes, *no, with_email])

    r = client.get(f"/api/v1/campaigns/{campaign_id}/reach", headers=tenant.headers)
    assert r.status_code == 200
    body = r.json()
    assert (body["topic"], body["kind"], body["audience"]) == ("promotions", "marketing", 6)
    by_channel = {c["channel"]: c for c in body["channels"]}
    assert body["channels"][0]["channel"] == "in_app"  # the campaign's own channel first
    assert by_channel["in_app"] == {
        "channel": "in_app",
        "audience": 6,
        "reached": 4,
        "held_for_quiet_hours": 0,
        "not_reached": {
            "consent": 2,
            "frequency_cap": 0,
            "channel_not_configured": 0,
            "no_address": 0,
        },
    }
    # Email: two have no consent; the rest meet an email channel nobody set up.
    assert by_channel["email"]["not_reached"] == {
        "consent": 2,
        "frequency_cap": 0,
        "channel_not_configured": 4,
        "no_address": 0,
    }
    sign_in(client, tenant)
    page = client.get(f"/campaigns/{campaign_id}")
    row = page.text[page.text.index('<tr data-channel="in_app">') :][:700]
    assert '<td class="num" data-reach="reached"><b>4</b></td>' in row
    assert '<td class="num" data-reach="consent">2</td>' in row

    _send(sessions, tenant, campaign_id, clock, settings, cfg)
    stats = client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=tenant.headers).json()
    assert (stats["messages"]["sent"], stats["messages"]["skipped"]) == (4, 2)
    assert stats["messages"]["outcome"] == "went"
    assert stats["messages"]["skipped_by_reason"] == {"consent": 2}
    page = client.get(f"/campaigns/{campaign_id}")
    head = page.text[page.text.index("<h1>") : page.text.index("</h1>")]
    assert 'data-status="sent"' in head


def test_campaign_stats_and_reach_belong_to_their_merchant(
    client: TestClient, sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    campaign_id = _campaign(sessions, tenant, [member])
    for path in ("stats", "reach"):
        r = client.get(f"/api/v1/campaigns/{campaign_id}/{path}", headers=other_tenant.headers)
        assert r.status_code == 404
        assert (
            client.get(
                f"/api/v1/campaigns/{campaign_id}/{path}", headers=tenant.clerk_headers
            ).status_code
            == 403
        )
