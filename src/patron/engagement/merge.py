"""Merging two members: messages, inbox items, journey enrolments and campaign recipients follow
the kept member; segment membership is evaluated again for both.

A campaign audience is a record of who was chosen at launch (and of the holdout draw): when
both records were in the same campaign, the merged member's recipient row stays on the tombstone
rather than being dropped, so the campaign's counts and uplift are unchanged (ADR 0371).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.core.merge_hooks import STAGE_AFTER, STAGE_ROWS, register_merge_hook
from patron.engagement.campaigns.models import CampaignRecipient
from patron.engagement.journeys.models import JourneyEnrolment
from patron.engagement.models import InboxItem, Message
from patron.engagement.segments.models import Segment
from patron.engagement.segments.service import refresh


def _move(session: Session, model: type, merchant_id: int, keep_id: int, gone_id: int) -> None:
    session.execute(
        update(model)
        .where(model.merchant_id == merchant_id, model.member_id == gone_id)  # type: ignore[attr-defined]
        .values(member_id=keep_id)
        .execution_options(synchronize_session=False)
    )


def merge_engagement(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    """Move member ``gone_id``'s messages, inbox, journeys and campaign places to ``keep_id``."""
    for model in (Message, InboxItem, JourneyEnrolment):
        _move(session, model, merchant_id, keep_id, gone_id)
    kept_campaigns = select(CampaignRecipient.campaign_id).where(
        CampaignRecipient.member_id == keep_id
    )
    session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.merchant_id == merchant_id,
            CampaignRecipient.member_id == gone_id,
            CampaignRecipient.campaign_id.not_in(kept_campaigns),
        )
        .values(member_id=keep_id)
        .execution_options(synchronize_session=False)
    )


def merge_segments(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    """Evaluate every active segment again for both: the tombstone leaves, the kept member
    enters or leaves by what it now has (runs after the tombstone is marked)."""
    segments = session.scalars(
        select(Segment)
        .where(Segment.merchant_id == merchant_id, Segment.status == "active")
        .order_by(Segment.id)
    )
    for segment in list(segments):
        refresh(session, segment, member_ids=[keep_id, gone_id])


register_merge_hook(merge_engagement, STAGE_ROWS)
register_merge_hook(merge_segments, STAGE_AFTER + 5)  # after the tier is settled
