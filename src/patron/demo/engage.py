"""The demo's engagement: ready-made journeys switched on from the start of the history, and one
past campaign with a holdout group, so the message log, journey pages and campaign results have
real history. Messages go to the in-app inbox (a local insert: no network, no credentials).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.coupons import service as coupons
from patron.coupons.schemas import TemplateIn
from patron.engagement.campaigns.schemas import CampaignIn
from patron.engagement.campaigns.service import create_campaign, launch
from patron.engagement.journeys.library import LIBRARY
from patron.engagement.journeys.service import create_journey, switch
from patron.engagement.library import create_template
from patron.members.models import Member

# The demo's worker runs once a day (at noon), so a step due just after a round waits up to a
# day: the journeys allow a 36-hour send window instead of 12 (a live worker runs every second).
SEND_WINDOW_HOURS = 36
JOURNEYS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("welcome", {"days": 2}),
    ("after_sales", {"days": 7}),
    ("birthday", {}),  # the birthday coupon comes from the coupon automation already
    ("festival", {"festival": "mid_autumn", "days_before": 3}),
    ("points_expiring", {}),
    ("tier_up", {}),
)
CAMPAIGN_DAYS_BEFORE_NOW = 60
HOLDOUT_PERCENT = 10.0


def switch_on_journeys(session: Session, merchant_id: int) -> list[int]:
    """Create the ready-made journeys from the library and switch them on."""
    ids = []
    for key, params in JOURNEYS:
        entry = LIBRARY[key]
        definition = {**entry.build(params), "send_window_hours": SEND_WINDOW_HOURS}
        journey = create_journey(session, merchant_id, entry.name, definition, library_key=key)
        switch(session, merchant_id, journey.id, on=True)
        ids.append(journey.id)
    return ids


def launch_past_campaign(session: Session, merchant_id: int) -> int:
    """A spring tea coupon to every registered member who has bought, 10% held out; launched at
    the session clock's time (the replay calls it about two months before "now")."""
    coupon = coupons.create_template(
        session,
        merchant_id,
        TemplateIn(
            name="新茶季 New tea season ¥30 off",
            description="¥30 off an order over ¥200, for 30 days.",
            kind="amount_off",
            amount_off_minor=3_000,
            min_spend_minor=20_000,
            valid_days=30,
            per_member_limit=1,
        ),
    )
    message = create_template(
        session,
        merchant_id,
        "New tea season",
        "in_app",
        {
            "en": {
                "title": "New season teas are in",
                "body": "Hello {{ member.display_name }}, here is ¥30 off your next order "
                "over ¥200.",
            },
            "zh_Hans": {
                "title": "新茶上市",
                "body": "{{ member.display_name }}，您好！送您一张满200减30的优惠券。",
            },
        },
    )
    buyers = list(
        session.scalars(
            select(Member.id)
            .where(
                Member.merchant_id == merchant_id,
                Member.registered_at.is_not(None),
                Member.orders_count > 0,
            )
            .order_by(Member.id)
        )
    )
    campaign = create_campaign(
        session,
        merchant_id,
        CampaignIn(
            name="新茶季 New tea season",
            member_ids=buyers,
            channel="in_app",
            template_id=message.id,
            coupon_template_id=coupon.id,
            holdout_percent=HOLDOUT_PERCENT,
            rate_per_minute=100_000,
            results_window_days=30,
        ),
    )
    launch(session, merchant_id, campaign.id)
    return campaign.id
