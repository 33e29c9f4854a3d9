"""Campaigns: define, launch (snapshot + holdout draw), release paced batches, pause, resume.

Launch takes the audience in one ``INSERT … SELECT`` into ``campaign_recipients`` with each
member's recorded holdout draw (see :mod:`.draw`). The release task then moves the treated
recipients to the outbox in batches sized to the channel's rate: each batch is one transaction
that enqueues the messages (dedupe key ``campaign:{id}:{member_id}``), gives the grants and marks
the recipients released, so pausing stops between batches and resuming continues with the next
pending member — nobody is skipped and nobody is sent twice.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import Select, func, insert, literal, select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import BusinessRuleViolation, InvalidInput, NotFound
from patron.core.events import register_event_types
from patron.core.owned import require_owned
from patron.coupons import service as coupons
from patron.engagement.campaigns.draw import draw_sql, prepare
from patron.engagement.campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientState,
)
from patron.engagement.campaigns.schemas import CampaignIn, CampaignPatch
from patron.engagement.channels import get_channel
from patron.engagement.messages import KINDS
from patron.engagement.models import MessageTemplate
from patron.engagement.segments.models import SegmentMember
from patron.engagement.segments.service import get_segment
from patron.members import topics
from patron.members.models import Member

register_event_types("campaign.launched", "campaign.sent")

# Messages per minute when the campaign names no rate: what each provider accepts by default.
CHANNEL_RATES = {"email": 600, "sms": 60, "whatsapp": 80, "wechat": 300, "in_app": 6000}
# One batch is released every RELEASE_SECONDS (rate x RELEASE_SECONDS / 60 messages).
RELEASE_SECONDS = 10
EDITABLE = (CampaignStatus.DRAFT.value,)


def _validate(session: Session, merchant_id: int, c: Campaign) -> None:
    get_channel(c.channel)
    topics.check_topic(session, merchant_id, c.topic)
    if c.kind not in KINDS:
        raise InvalidInput(f"kind must be one of {sorted(KINDS)}", code="invalid_kind")
    if (c.segment_id is None) == (c.member_ids is None):
        raise InvalidInput("give a segment_id or member_ids", code="invalid_audience")
    if c.segment_id is not None:
        get_segment(session, merchant_id, c.segment_id)
    if c.member_ids is not None:
        require_owned(session, Member, merchant_id, c.member_ids, field="member_ids", what="member")
    template = session.get(MessageTemplate, c.template_id)
    if template is None or template.merchant_id != merchant_id:
        raise NotFound("template not found", code="template_not_found")
    if template.channel != c.channel:
        raise InvalidInput(f"template is for {template.channel}", code="channel_mismatch")
    if c.coupon_template_id is not None:
        coupons.get_template(session, merchant_id, c.coupon_template_id)


def create_campaign(session: Session, merchant_id: int, data: CampaignIn) -> Campaign:
    """A draft campaign; nothing is sent until it is launched."""
    now = utcnow(session)
    fields = data.model_dump(exclude={"holdout_percent"})
    campaign = Campaign(
        merchant_id=merchant_id,
        **fields,
        holdout_bp=round(data.holdout_percent * 100),
        status=CampaignStatus.DRAFT.value,
        audience_count=0,
        treated_count=0,
        holdout_count=0,
        released_count=0,
        created_at=now,
        updated_at=now,
    )
    _validate(session, merchant_id, campaign)
    session.add(campaign)
    session.flush()
    return campaign


def update_campaign(
    session: Session, merchant_id: int, campaign_id: int, data: CampaignPatch
) -> Campaign:
    """Change a draft (a launched campaign's audience and content are fixed)."""
    campaign = get_campaign(session, merchant_id, campaign_id)
    if campaign.status not in EDITABLE:
        raise BusinessRuleViolation("only a draft can be changed", code="campaign_not_draft")
    changes = data.model_dump(exclude_unset=True)
    if "holdout_percent" in changes:
        campaign.holdout_bp = round(changes.pop("holdout_percent") * 100)
    if "segment_id" in changes and changes["segment_id"] is not None:
        campaign.member_ids = None
    if "member_ids" in changes and changes["member_ids"] is not None:
        campaign.segment_id = None
    for key, value in changes.items():
        setattr(campaign, key, value)
    # The changed ids are checked before anything is written: an autoflush would send another
    # merchant's id to the database first (where the merchant's own keys refuse it, ADR 0060).
    with session.no_autoflush:
        _validate(session, merchant_id, campaign)
    campaign.updated_at = utcnow(session)
    session.flush()
    return campaign


def get_campaign(session: Session, merchant_id: int, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.merchant_id != merchant_id:
        raise NotFound("campaign not found", code="campaign_not_found")
    return campaign


def list_campaigns(
    session: Session, merchant_id: int, limit: int = 50, cursor: int | None = None
) -> list[Campaign]:
    """Newest first (``limit + 1`` rows for paging)."""
    query = select(Campaign).where(Campaign.merchant_id == merchant_id)
    if cursor is not None:
        query = query.where(Campaign.id < cursor)
    return list(session.scalars(query.order_by(Campaign.id.desc()).limit(limit + 1)))


def launch(
    session: Session, merchant_id: int, campaign_id: int, at: datetime | None = None
) -> Campaign:
    """Launch now (audience snapshot and holdout draw at once) or schedule for ``at``."""
    campaign = get_campaign(session, merchant_id, campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        raise BusinessRuleViolation(
            f"this campaign is {campaign.status}", code="campaign_not_draft"
        )
    _validate(session, merchant_id, campaign)
    now = utcnow(session)
    if at is not None and at > now:
        campaign.status = CampaignStatus.SCHEDULED.value
        campaign.scheduled_at = at
        campaign.next_release_at = at
        campaign.updated_at = now
        session.flush()
        return campaign
    start(session, campaign)
    return campaign


def audience_query(campaign: Campaign) -> Select[int, int]:
    """(member id, holdout draw) of the campaign's audience as it is now."""
    draw = draw_sql(literal(campaign.id), Member.id)
    query = select(Member.id, draw).where(
        Member.merchant_id == campaign.merchant_id, Member.merged_into_id.is_(None)
    )
    if campaign.segment_id is not None:
        return query.join(SegmentMember, SegmentMember.member_id == Member.id).where(
            SegmentMember.segment_id == campaign.segment_id
        )
    return query.where(Member.id.in_(campaign.member_ids or []))


def start(session: Session, campaign: Campaign) -> None:
    """Snapshot the audience with its holdout draw; the release task sends from here."""
    prepare(session)
    now = utcnow(session)
    audience = audience_query(campaign).subquery()
    held = audience.c[1] < campaign.holdout_bp
    for is_holdout, grp, state in (
        (True, "holdout", RecipientState.HOLDOUT.value),
        (False, "treated", RecipientState.PENDING.value),
    ):
        session.execute(
            insert(CampaignRecipient).from_select(
                ["merchant_id", "campaign_id", "member_id", "draw", "grp", "state"],
                select(
                    literal(campaign.merchant_id),
                    literal(campaign.id),
                    audience.c[0],
                    audience.c[1],
                    literal(grp),
                    literal(state),
                ).where(held if is_holdout else ~held),
            )
        )
    counts = dict(
        session.execute(
            select(CampaignRecipient.grp, func.count())
            .where(CampaignRecipient.campaign_id == campaign.id)
            .group_by(CampaignRecipient.grp)
        ).all()
    )
    campaign.treated_count = int(counts.get("treated", 0))
    campaign.holdout_count = int(counts.get("holdout", 0))
    campaign.audience_count = campaign.treated_count + campaign.holdout_count
    campaign.status = CampaignStatus.SENDING.value
    campaign.launched_at = now
    campaign.next_release_at = now
    campaign.updated_at = now
    session.flush()


def pause(session: Session, merchant_id: int, campaign_id: int) -> Campaign:
    """Stop releasing batches (what was released stays in the outbox)."""
    campaign = get_campaign(session, merchant_id, campaign_id)
    if campaign.status not in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED):
        raise BusinessRuleViolation(f"this campaign is {campaign.status}", code="not_sending")
    campaign.status = CampaignStatus.PAUSED.value
    campaign.status_reason = "paused by staff"
    campaign.updated_at = utcnow(session)
    session.flush()
    return campaign


def resume(session: Session, merchant_id: int, campaign_id: int) -> Campaign:
    """Continue with the next pending recipient."""
    campaign = get_campaign(session, merchant_id, campaign_id)
    if campaign.status != CampaignStatus.PAUSED:
        raise BusinessRuleViolation(f"this campaign is {campaign.status}", code="not_paused")
    now = utcnow(session)
    launched = campaign.launched_at is not None
    campaign.status = (CampaignStatus.SENDING if launched else CampaignStatus.SCHEDULED).value
    campaign.status_reason = None
    campaign.next_release_at = now if launched else campaign.scheduled_at
    campaign.updated_at = now
    session.flush()
    return campaign


def cancel(session: Session, merchant_id: int, campaign_id: int) -> Campaign:
    """Stop for good; recipients not yet released are marked cancelled."""
    campaign = get_campaign(session, merchant_id, campaign_id)
    if campaign.status in (CampaignStatus.SENT, CampaignStatus.CANCELLED):
        raise BusinessRuleViolation(f"this campaign is {campaign.status}", code="campaign_over")
    now = utcnow(session)
    session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.state == RecipientState.PENDING.value,
        )
        .values(state=RecipientState.CANCELLED.value)
    )
    campaign.status = CampaignStatus.CANCELLED.value
    campaign.finished_at = now
    campaign.next_release_at = None
    campaign.updated_at = now
    session.flush()
    return campaign


def recipients(
    session: Session,
    merchant_id: int,
    campaign_id: int,
    grp: str | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> list[CampaignRecipient]:
    """The audience snapshot in member order (``limit + 1`` rows for paging)."""
    get_campaign(session, merchant_id, campaign_id)
    query = select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
    if grp is not None:
        query = query.where(CampaignRecipient.grp == grp)
    if cursor is not None:
        query = query.where(CampaignRecipient.id > cursor)
    return list(session.scalars(query.order_by(CampaignRecipient.id).limit(limit + 1)))


def batch_size(campaign: Campaign) -> int:
    rate = campaign.rate_per_minute or CHANNEL_RATES.get(campaign.channel, 60)
    return max(1, math.floor(rate * RELEASE_SECONDS / 60))
