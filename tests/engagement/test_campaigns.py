"""Campaigns: recorded deterministic holdout, one message per treated member, paced release with
pause/resume, grants once, and exact results on a hand-built set of orders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.coupons.models import CouponCode
from patron.engagement import library
from patron.engagement.campaigns import results, service
from patron.engagement.campaigns.draw import holdout_draw
from patron.engagement.campaigns.models import CampaignRecipient
from patron.engagement.campaigns.release import release_due
from patron.engagement.campaigns.schemas import CampaignIn
from patron.engagement.models import Message
from patron.orders.schemas import OrderCreate, OrderLineIn
from patron.orders.service import create_order
from tests.conftest import Tenant
from tests.engagement.conftest import add_member

INBOX = {"en": {"title": "Hello {{ member.first_name }}", "body": "News"}}


def _template(sessions: sessionmaker[Session], tenant: Tenant) -> int:
    with transaction(sessions) as s:
        return library.create_template(s, tenant.merchant_id, "news", "in_app", INBOX).id


def _campaign(
    sessions: sessionmaker[Session], tenant: Tenant, members: list[int], **fields: object
) -> int:
    template_id = _template(sessions, tenant)
    with transaction(sessions) as s:
        data = CampaignIn(
            name="Spring",
            member_ids=members,
            channel="in_app",
            template_id=template_id,
            **fields,  # type: ignore[arg-type]
        )
        return service.create_campaign(s, tenant.merchant_id, data).id


def _release_all(sessions: sessionmaker[Session], clock: FrozenClock, rounds: int = 100) -> int:
    total = 0
    for _ in range(rounds):
        with transaction(sessions) as s:
            done = release_due(s)
        if done == 0:
            clock.advance(timedelta(seconds=10))
            with transaction(sessions) as s:
                if release_due(s) == 0:
                    return total
            continue
        total += done
    return total


def _messages(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    with sessions() as s:
        return sorted(s.execute(select(Message.member_id, Message.dedupe_key)).all())


def _recipients(sessions: sessionmaker[Session], campaign_id: int) -> dict[int, tuple[int, str]]:
    with sessions() as s:
        rows = s.scalars(
            select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
        )
        return {r.member_id: (r.draw, r.grp) for r in rows}


def test_holdout_is_recorded_deterministic_and_gets_nothing(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    members = [add_member(sessions, tenant.merchant_id) for _ in range(40)]
    campaign_id = _campaign(sessions, tenant, members, holdout_percent=30)
    with transaction(sessions) as s:
        service.launch(s, tenant.merchant_id, campaign_id)
    groups = _recipients(sessions, campaign_id)
    # The database computed the same draw as Python, and the group follows from it.
    expected = {
        m: (
            holdout_draw(campaign_id, m),
            "holdout" if holdout_draw(campaign_id, m) < 3000 else "treated",
        )
        for m in members
    }
    assert groups == expected
    treated = sorted(m for m, (_d, g) in groups.items() if g == "treated")
    assert 0 < len(treated) < 40

    _release_all(sessions, clock)

    assert _messages(sessions) == [(m, f"campaign:{campaign_id}:{m}") for m in treated]
    with sessions() as s:
        campaign = service.get_campaign(s, tenant.merchant_id, campaign_id)
        assert (campaign.status, campaign.released_count, campaign.holdout_count) == (
            "sent",
            len(treated),
            40 - len(treated),
        )


def test_pause_and_resume_neither_skip_nor_repeat(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    members = [add_member(sessions, tenant.merchant_id) for _ in range(25)]
    # 60 a minute = 10 per 10-second release.
    campaign_id = _campaign(sessions, tenant, members, rate_per_minute=60)
    with transaction(sessions) as s:
        service.launch(s, tenant.merchant_id, campaign_id)
    with transaction(sessions) as s:
        assert release_due(s) == 10
    with transaction(sessions) as s:
        assert release_due(s) == 0  # paced: the next batch is due in 10 seconds
    with transaction(sessions) as s:
        service.pause(s, tenant.merchant_id, campaign_id)
    clock.advance(timedelta(minutes=5))
    with transaction(sessions) as s:
        assert release_due(s) == 0  # paused: nothing released
    assert len(_messages(sessions)) == 10
    with transaction(sessions) as s:
        service.resume(s, tenant.merchant_id, campaign_id)
    _release_all(sessions, clock)

    assert _messages(sessions) == sorted((m, f"campaign:{campaign_id}:{m}") for m in members)
    with sessions() as s:
        assert service.get_campaign(s, tenant.merchant_id, campaign_id).status == "sent"


def test_coupon_grant_once_per_treated_member(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    from patron.coupons import service as coupons
    from patron.coupons.schemas import TemplateIn

    members = [add_member(sessions, tenant.merchant_id) for _ in range(3)]
    with transaction(sessions) as s:
        coupon = coupons.create_template(
            s,
            tenant.merchant_id,
            TemplateIn(name="5 off", kind="amount_off", amount_off_minor=500),
        ).id
    campaign_id = _campaign(sessions, tenant, members, coupon_template_id=coupon)
    with transaction(sessions) as s:
        service.launch(s, tenant.merchant_id, campaign_id)
    _release_all(sessions, clock)
    with sessions() as s:
        codes = s.scalar(select(func.count()).select_from(CouponCode)) or 0
        contexts = [m.context["coupon"]["title"] for m in s.scalars(select(Message))]
    assert codes == 3
    assert contexts == ["5 off"] * 3


def _buy(
    sessions: sessionmaker[Session], tenant: Tenant, member: int, ref: str, minor: int
) -> None:
    with transaction(sessions) as s:
        create_order(
            s,
            tenant.merchant_id,
            OrderCreate(
                external_id=ref,
                member_id=member,
                lines=[OrderLineIn(sku="tea", name="Tea", quantity=1, unit_price_minor=minor)],
            ),
        )


def test_results_exact_on_a_hand_built_set(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    members = [add_member(sessions, tenant.merchant_id) for _ in range(12)]
    campaign_id = _campaign(sessions, tenant, members, holdout_percent=50, results_window_days=7)
    _buy(sessions, tenant, members[0], "before", 999)  # before launch: not counted
    clock.advance(timedelta(hours=1))
    with transaction(sessions) as s:
        service.launch(s, tenant.merchant_id, campaign_id)
    groups = _recipients(sessions, campaign_id)
    treated = sorted(m for m, (_d, g) in groups.items() if g == "treated")
    holdout = sorted(m for m, (_d, g) in groups.items() if g == "holdout")
    assert len(treated) >= 2 and len(holdout) >= 2
    clock.advance(timedelta(days=1))
    _buy(sessions, tenant, treated[0], "t1", 1000)
    _buy(sessions, tenant, treated[0], "t2", 500)
    _buy(sessions, tenant, treated[1], "t3", 2000)
    _buy(sessions, tenant, holdout[0], "h1", 700)
    clock.advance(timedelta(days=7))
    _buy(sessions, tenant, holdout[1], "late", 5000)  # after the window: not counted

    with sessions() as s:
        r = results.campaign_results(s, tenant.merchant_id, campaign_id)
    assert r["treated"] == {"members": len(treated), "buyers": 2, "revenue_minor": 3500}
    assert r["holdout"] == {"members": len(holdout), "buyers": 1, "revenue_minor": 700}
    rate = r["repurchase_rate"]
    assert rate["treated"] == pytest.approx(2 / len(treated))
    assert rate["holdout"] == pytest.approx(1 / len(holdout))
    assert rate["low"] < rate["difference"] < rate["high"]
    revenue = r["revenue_per_member"]
    assert revenue["difference"] == pytest.approx(3500 / len(treated) - 700 / len(holdout))
