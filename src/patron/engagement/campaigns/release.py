"""The release task: moves treated recipients to the outbox, one paced batch per transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import is_postgres, transaction
from patron.core.errors import PatronError
from patron.engagement import grants
from patron.engagement.campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientState,
)
from patron.engagement.campaigns.service import RELEASE_SECONDS, batch_size, start
from patron.engagement.messages import enqueue_messages

DUE = (CampaignStatus.SCHEDULED.value, CampaignStatus.SENDING.value)


def _claim_campaign(session: Session) -> Campaign | None:
    """One due campaign, row-locked (PostgreSQL: other workers skip it and take another)."""
    now = utcnow(session)
    query = (
        select(Campaign)
        .where(Campaign.status.in_(DUE), Campaign.next_release_at <= now)
        .order_by(Campaign.next_release_at, Campaign.id)
        .limit(1)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)


def _give(
    session: Session, campaign: Campaign, members: list[int]
) -> dict[int, dict[str, Any]] | None:
    """The grants of one batch; None (and the campaign paused) when the coupon refuses."""
    contexts: dict[int, dict[str, Any]] = {m: {} for m in members}
    try:
        if campaign.coupon_template_id is not None:
            given = grants.grant_coupons(
                session,
                campaign.merchant_id,
                campaign.coupon_template_id,
                members,
                f"campaign:{campaign.id}",
            )
            for member_id, coupon in given.items():
                contexts[member_id] = {"coupon": coupon}
        if campaign.points:
            for member_id in members:
                with session.begin_nested():
                    grants.grant_points(
                        session,
                        campaign.merchant_id,
                        member_id,
                        campaign.points,
                        f"campaign:{campaign.id}:{member_id}",
                        f"Gift from {campaign.name}",
                    )
    except PatronError as exc:
        # A coupon that ran out must not silently send a message promising it: stop and say.
        campaign.status = CampaignStatus.PAUSED.value
        campaign.status_reason = f"grant refused: {exc.code}"
        return None
    return contexts


def release_batch(session: Session, campaign: Campaign) -> int:
    """Release the next batch of pending treated recipients; returns how many."""
    now = utcnow(session)
    if campaign.status == CampaignStatus.SCHEDULED:
        start(session, campaign)
    members = list(
        session.scalars(
            select(CampaignRecipient.member_id)
            .where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.state == RecipientState.PENDING.value,
            )
            .order_by(CampaignRecipient.member_id)
            .limit(batch_size(campaign))
        )
    )
    if not members:
        campaign.status = CampaignStatus.SENT.value
        campaign.finished_at = now
        campaign.next_release_at = None
        campaign.updated_at = now
        return 0
    contexts = _give(session, campaign, members)
    if contexts is None:
        campaign.updated_at = now
        return 0
    enqueue_messages(
        session,
        campaign.merchant_id,
        campaign.channel,
        [(m, f"campaign:{campaign.id}:{m}", contexts[m]) for m in members],
        topic=campaign.topic,
        kind=campaign.kind,
        template_id=campaign.template_id,
    )
    session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.member_id.in_(members),
            CampaignRecipient.state == RecipientState.PENDING.value,
        )
        .values(state=RecipientState.RELEASED.value, released_at=now)
    )
    campaign.released_count += len(members)
    campaign.next_release_at = now + timedelta(seconds=RELEASE_SECONDS)
    campaign.updated_at = now
    session.flush()
    return len(members)


def release_due(session: Session) -> int:
    """Release one batch of one due campaign (the worker calls again while there is work)."""
    campaign = _claim_campaign(session)
    if campaign is None:
        return 0
    return max(1, release_batch(session, campaign))


def release_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    """Worker task: one batch per call, each in its own transaction."""
    with transaction(sessions) as session:
        return release_due(session)
