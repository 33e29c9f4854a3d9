"""Campaign pages over HTTP, on SQLite and PostgreSQL: list, draft form, launch / pause / resume
through CSRF forms (a double submit changes nothing more), exact results, tenancy, Chinese."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.uplift import mean_difference, rate_difference
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.engagement import library
from patron.engagement.campaigns import service as campaigns
from patron.engagement.campaigns.draw import holdout_draw
from patron.engagement.campaigns.models import Campaign, CampaignRecipient
from patron.engagement.campaigns.schemas import CampaignIn, CampaignPatch
from patron.engagement.segments.service import create_segment
from patron.members import service as members
from patron.members.schemas import MemberCreate
from patron.orders.schemas import OrderCreate, OrderLineIn
from patron.orders.service import create_order
from tests.conftest import Tenant
from tests.web.helpers import csrf_of, sign_in

INBOX = {
    "en": {"title": "Hello {{ member.first_name }}", "body": "New coats"},
    "zh_Hans": {"title": "你好", "body": "新款大衣"},
}


def _member(sessions: sessionmaker[Session], tenant: Tenant, first: str, tag: str = "vip") -> int:
    with transaction(sessions) as s:
        data = MemberCreate(first_name=first, last_name="Li", tags=[tag], registered=True)
        return members.create_member(s, tenant.merchant_id, data).id


def _setup(sessions: sessionmaker[Session], tenant: Tenant, n: int = 3) -> dict[str, int]:
    ids = [_member(sessions, tenant, f"Vip{i}") for i in range(n)]
    with transaction(sessions) as s:
        segment = create_segment(
            s, tenant.merchant_id, "VIP", {"field": "tag", "op": "has", "value": "vip"}
        )
        template = library.create_template(s, tenant.merchant_id, "Coats news", "in_app", INBOX)
        return {"segment": segment.id, "template": template.id, "first": ids[0]}


def _draft(
    sessions: sessionmaker[Session], tenant: Tenant, ids: dict[str, int], **kw: object
) -> int:
    with transaction(sessions) as s:
        data = CampaignIn(
            name="Autumn coats",
            segment_id=ids["segment"],
            channel="in_app",
            template_id=ids["template"],
            **kw,  # type: ignore[arg-type]
        )
        return campaigns.create_campaign(s, tenant.merchant_id, data).id


def _status(sessions: sessionmaker[Session], campaign_id: int) -> tuple[str, int]:
    with sessions() as s:
        c = s.get(Campaign, campaign_id)
        assert c is not None
        count = s.scalar(select(func.count()).where(CampaignRecipient.campaign_id == campaign_id))
        return c.status, int(count or 0)


def test_list_and_detail_show_the_campaign(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = _setup(sessions, tenant)
    campaign_id = _draft(sessions, tenant, ids, holdout_percent=12.5, points=50)
    sign_in(client, tenant)
    page = client.get("/campaigns")
    assert page.status_code == 200
    for expected in ("Autumn coats", "Draft", "VIP", "12.5%", "Coats news", "In-app"):
        assert expected in page.text, expected
    page = client.get(f"/campaigns/{campaign_id}")
    assert page.status_code == 200
    for expected in (
        "Ready to send?",
        "50 points",
        "Offers and news",
        "30 days",
        'href="/segments/',
    ):
        assert expected in page.text, expected
    assert "Results appear once the campaign has started" in page.text


def test_draft_form_creates_and_refuses_bad_values(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = _setup(sessions, tenant)
    sign_in(client, tenant)
    form = client.get("/campaigns/new")
    assert form.status_code == 200 and "Coats news" in form.text
    fields = {
        "csrf_token": csrf_of(form),
        "name": "Spring tea",
        "segment_id": str(ids["segment"]),
        "channel": "in_app",
        "template_id": str(ids["template"]),
        "topic": "birthday",
        "kind": "marketing",
        "coupon_template_id": "",
        "points": "",
        "holdout_percent": "80",
        "rate_per_minute": "",
        "results_window_days": "14",
    }
    r = client.post("/campaigns/new", data=fields, follow_redirects=False)
    assert r.status_code == 422
    assert "holdout_percent" in r.text and 'value="Spring tea"' in r.text
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 0

    r = client.post(
        "/campaigns/new", data=fields | {"holdout_percent": "20"}, follow_redirects=False
    )
    assert r.status_code == 303
    with sessions() as s:
        c = s.scalars(select(Campaign)).one()
        assert (c.name, c.topic, c.holdout_bp, c.results_window_days, c.status) == (
            "Spring tea",
            "birthday",
            2000,
            14,
            "draft",
        )
    assert r.headers["location"] == f"/campaigns/{c.id}"

    edit = client.get(f"/campaigns/{c.id}/edit")
    assert 'value="20"' in edit.text
    r = client.post(
        f"/campaigns/{c.id}/edit",
        data=fields | {"csrf_token": csrf_of(edit), "name": "Spring tea 2", "holdout_percent": "5"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        f"/campaigns/{c.id}/edit",
        data=fields | {"csrf_token": csrf_of(edit), "name": "", "holdout_percent": "7"},
    )
    assert r.status_code == 422
    with sessions() as s:
        c = s.scalars(select(Campaign)).one()
        assert (c.name, c.holdout_bp) == ("Spring tea 2", 500)


def test_launch_pause_resume_cancel_change_status_exactly_once(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = _setup(sessions, tenant, n=4)
    campaign_id = _draft(sessions, tenant, ids)
    sign_in(client, tenant)
    page = client.get(f"/campaigns/{campaign_id}")
    token = csrf_of(page)
    r = client.post(f"/campaigns/{campaign_id}/launch", data={"at": ""})
    assert r.status_code == 403  # no CSRF token: refused before the route
    assert _status(sessions, campaign_id) == ("draft", 0)

    for _ in range(2):  # a double click
        r = client.post(f"/campaigns/{campaign_id}/launch", data={"csrf_token": token, "at": ""})
        assert r.status_code == 200
    assert "Not saved: this campaign is sending" in r.text
    assert _status(sessions, campaign_id) == ("sending", 4)

    for _ in range(2):
        r = client.post(f"/campaigns/{campaign_id}/pause", data={"csrf_token": token})
    assert "this campaign is paused" in r.text
    assert _status(sessions, campaign_id) == ("paused", 4)
    assert "Resume" in r.text
    r = client.post(f"/campaigns/{campaign_id}/resume", data={"csrf_token": token})
    assert "Campaign resumed." in r.text
    r = client.post(f"/campaigns/{campaign_id}/cancel", data={"csrf_token": token})
    assert _status(sessions, campaign_id) == ("cancelled", 4)
    assert "Cancel campaign" not in r.text


def test_schedule_uses_the_merchants_local_time(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ids = _setup(sessions, tenant)
    campaign_id = _draft(sessions, tenant, ids)
    sign_in(client, tenant)
    token = csrf_of(client.get(f"/campaigns/{campaign_id}"))
    local = (clock.now() + timedelta(days=2)).replace(hour=10, minute=30, second=0, microsecond=0)
    with sessions() as s:
        from zoneinfo import ZoneInfo

        from patron.tenancy.models import Merchant

        merchant = s.get(Merchant, tenant.merchant_id)
        assert merchant is not None
        zone = ZoneInfo(merchant.timezone)
    wall = local.astimezone(zone).replace(tzinfo=None)
    r = client.post(
        f"/campaigns/{campaign_id}/launch",
        data={"csrf_token": token, "at": wall.strftime("%Y-%m-%dT%H:%M")},
    )
    assert "Campaign scheduled." in r.text
    with sessions() as s:
        c = s.get(Campaign, campaign_id)
        assert c is not None and c.status == "scheduled"
        assert c.scheduled_at == wall.replace(tzinfo=zone)


def _buy(
    sessions: sessionmaker[Session], tenant: Tenant, member: int, ref: str, minor: int
) -> None:
    with transaction(sessions) as s:
        line = OrderLineIn(sku="tea", name="Tea", quantity=1, unit_price_minor=minor)
        create_order(
            s, tenant.merchant_id, OrderCreate(external_id=ref, member_id=member, lines=[line])
        )


def test_results_show_exact_numbers_and_csv(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ids = _setup(sessions, tenant, n=1)
    pool = [_member(sessions, tenant, f"P{i}", tag="pool") for i in range(30)]
    campaign_id = _draft(sessions, tenant, ids, holdout_percent=50, results_window_days=7)
    # Three members of each group, chosen by the recorded draw (ADR 0802).
    treated = [m for m in pool if holdout_draw(campaign_id, m) >= 5000][:3]
    holdout = [m for m in pool if holdout_draw(campaign_id, m) < 5000][:3]
    with transaction(sessions) as s:
        patch = CampaignPatch(member_ids=treated + holdout)
        campaigns.update_campaign(s, tenant.merchant_id, campaign_id, patch)
        campaigns.launch(s, tenant.merchant_id, campaign_id)
    clock.advance(timedelta(days=1))
    _buy(sessions, tenant, treated[0], "t1", 1000)
    _buy(sessions, tenant, treated[0], "t2", 500)
    _buy(sessions, tenant, treated[1], "t3", 2000)
    _buy(sessions, tenant, holdout[0], "h1", 700)
    clock.advance(timedelta(days=7))
    _buy(sessions, tenant, holdout[1], "late", 5000)  # after the window

    sign_in(client, tenant)
    page = client.get(f"/campaigns/{campaign_id}")
    text = page.text
    for expected in (
        "66.7%",
        "33.3%",
        "¥35.00",
        "¥7.00",
        "¥11.67",
        "¥2.33",
        "+33.3 pts",
        "+CN¥9.33",
    ):
        assert expected in text, expected
    assert text.count('class="bar-treated"') == 2 and "<svg" in text
    rate = rate_difference(2, 3, 1, 3)
    assert f"to +{round(rate.high * 100, 1)} pts" in text

    r = client.get(f"/campaigns/{campaign_id}/results.csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[1] == ["treated", "3", "2", "3500", "", ""]
    assert rows[2] == ["holdout", "3", "1", "700", "", ""]
    mean = mean_difference([1500.0, 2000.0, 0.0], [700.0, 0.0, 0.0])
    expected = [
        [
            "repurchase_rate",
            *(
                f"{v:.6g}"
                for v in (rate.treated, rate.holdout, rate.difference, rate.low, rate.high)
            ),
        ],
        [
            "revenue_per_member",
            *(
                f"{v:.6g}"
                for v in (mean.treated, mean.holdout, mean.difference, mean.low, mean.high)
            ),
        ],
    ]
    assert rows[5:7] == expected
    recipients = client.get(f"/campaigns/{campaign_id}?grp=holdout")
    assert recipients.text.count("Held out") == 3


def test_another_merchants_staff_gets_404(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = _setup(sessions, tenant)
    campaign_id = _draft(sessions, tenant, ids)
    sign_in(client, other_tenant)
    token = csrf_of(client.get("/campaigns"))
    assert "Autumn coats" not in client.get("/campaigns").text
    for path in (
        f"/campaigns/{campaign_id}",
        f"/campaigns/{campaign_id}/edit",
        f"/campaigns/{campaign_id}/results.csv",
    ):
        assert client.get(path).status_code == 404, path
    for action in ("launch", "pause", "cancel", "edit"):
        r = client.post(
            f"/campaigns/{campaign_id}/{action}", data={"csrf_token": token, "name": "x"}
        )
        assert r.status_code == 404, action
    assert _status(sessions, campaign_id) == ("draft", 0)


def test_campaign_pages_in_chinese(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = _setup(sessions, tenant)
    campaign_id = _draft(sessions, tenant, ids)
    sign_in(client, tenant)
    page = client.get(f"/campaigns/{campaign_id}")
    client.post("/language", data={"locale": "zh_Hans", "next": "/", "csrf_token": csrf_of(page)})
    text = client.get(f"/campaigns/{campaign_id}").text
    for expected in ("营销活动", "草稿", "发起", "对照组"):
        assert expected in text, expected
    assert "Ready to send?" not in text
