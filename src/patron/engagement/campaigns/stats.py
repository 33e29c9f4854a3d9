"""A campaign's message counts by outcome, and its reach before launch (per channel, why not).

Messages are found by their dedupe key ``campaign:{id}:{member_id}`` joined to the recipients
snapshot, so the unique (merchant_id, dedupe_key) index answers each lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, select
from sqlalchemy.orm import Session

from patron.engagement.campaigns.draw import prepare
from patron.engagement.campaigns.models import Campaign, CampaignRecipient, RecipientState
from patron.engagement.campaigns.service import audience_query, get_campaign
from patron.engagement.channels import channel_names
from patron.engagement.counts import MessageCounts, reason_column
from patron.engagement.models import Message
from patron.engagement.reach import reach


def campaign_counts(
    session: Session, merchant_id: int, campaign_ids: Iterable[int]
) -> dict[int, MessageCounts]:
    """campaign id → its messages by outcome (one query for a page of campaigns)."""
    ids = sorted(set(campaign_ids))
    found = {cid: MessageCounts() for cid in ids}
    if not ids:
        return found
    key = (
        literal("campaign:")
        + cast(CampaignRecipient.campaign_id, String)
        + literal(":")
        + cast(CampaignRecipient.member_id, String)
    )
    rows = session.execute(
        select(CampaignRecipient.campaign_id, Message.status, reason_column(), func.count())
        .join(
            Message,
            and_(Message.merchant_id == CampaignRecipient.merchant_id, Message.dedupe_key == key),
        )
        .where(
            CampaignRecipient.merchant_id == merchant_id,
            CampaignRecipient.campaign_id.in_(ids),
        )
        .group_by(CampaignRecipient.campaign_id, Message.status, reason_column())
    )
    for campaign_id, status, reason, n in rows:
        found[int(campaign_id)].add(str(status), reason, int(n))
    return found


def campaign_stats(session: Session, merchant_id: int, campaign_id: int) -> dict[str, Any]:
    """The snapshot's sizes and the messages by outcome (API: ``/campaigns/{id}/stats``)."""
    campaign = get_campaign(session, merchant_id, campaign_id)
    counts = campaign_counts(session, merchant_id, [campaign.id])[campaign.id]
    return {
        "campaign_id": campaign.id,
        "status": campaign.status,
        "audience": campaign.audience_count,
        "treated": campaign.treated_count,
        "holdout": campaign.holdout_count,
        "released": campaign.released_count,
        "messages": counts.as_dict(),
    }


def _members_to_send(session: Session, campaign: Campaign) -> list[int]:
    """Before launch: the audience as it is now, without those the holdout draw keeps out.
    After: the treated recipients not yet released."""
    if campaign.launched_at is None:
        prepare(session)
        audience = audience_query(campaign).subquery()
        rows = session.execute(
            select(audience.c[0]).where(audience.c[1] >= campaign.holdout_bp)
        ).scalars()
        return [int(m) for m in rows]
    return [
        int(m)
        for m in session.scalars(
            select(CampaignRecipient.member_id).where(
                CampaignRecipient.campaign_id == campaign.id,
                CampaignRecipient.state == RecipientState.PENDING.value,
            )
        )
    ]


def campaign_reach(
    session: Session, merchant_id: int, campaign_id: int, channels: Sequence[str] | None = None
) -> dict[str, Any]:
    """Who the campaign would reach if it went now: its own channel first, then the others
    for comparison, each with the reasons the rest would not be reached."""
    campaign = get_campaign(session, merchant_id, campaign_id)
    members = _members_to_send(session, campaign)
    chosen = (
        list(channels)
        if channels
        else [campaign.channel] + [c for c in channel_names() if c != campaign.channel]
    )
    answers = reach(session, merchant_id, members, chosen, campaign.topic, campaign.kind)
    return {
        "topic": campaign.topic,
        "kind": campaign.kind,
        "audience": len(members),
        "channels": [a.as_dict() for a in answers],
    }
