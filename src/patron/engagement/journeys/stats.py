"""A journey's send steps: their messages by outcome, and who each would reach now.

A send step's message has the dedupe key ``journey:{enrolment_id}:{step_id}``; joined to the
journey's enrolments, the unique (merchant_id, dedupe_key) index answers each lookup.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, cast, func, literal, select
from sqlalchemy.orm import Session

from patron.engagement.counts import MessageCounts, reason_column
from patron.engagement.journeys.models import Journey, JourneyEnrolment
from patron.engagement.journeys.service import current_version, get_journey
from patron.engagement.models import Message
from patron.engagement.reach import reach
from patron.engagement.segments.models import SegmentMember
from patron.members.models import Member
from patron.members.topics import GENERAL


def send_steps(session: Session, journey: Journey) -> list[dict[str, Any]]:
    return [s for s in current_version(session, journey).steps if s.get("type") == "send"]


def step_message_counts(
    session: Session, merchant_id: int, journey_id: int
) -> dict[str, MessageCounts]:
    """step id → the messages its send step enqueued, by outcome (every version's)."""
    journey = get_journey(session, merchant_id, journey_id)
    found: dict[str, MessageCounts] = {}
    for step in send_steps(session, journey):
        key = literal("journey:") + cast(JourneyEnrolment.id, String) + literal(f":{step['id']}")
        rows = session.execute(
            select(Message.status, reason_column(), func.count())
            .select_from(JourneyEnrolment)
            .join(
                Message,
                and_(
                    Message.merchant_id == JourneyEnrolment.merchant_id, Message.dedupe_key == key
                ),
            )
            .where(
                JourneyEnrolment.merchant_id == merchant_id,
                JourneyEnrolment.journey_id == journey.id,
            )
            .group_by(Message.status, reason_column())
        )
        counts = MessageCounts()
        for status, reason, n in rows:
            counts.add(str(status), reason, int(n))
        found[str(step["id"])] = counts
    return found


def _audience(session: Session, journey: Journey) -> tuple[str, list[int]]:
    """Who the journey speaks to if it ran now: the segment's members for a segment trigger,
    else every member (merged records left out)."""
    trigger = current_version(session, journey).trigger
    segment_id = (trigger.get("filter") or {}).get("segment_id")
    query = select(Member.id).where(
        Member.merchant_id == journey.merchant_id, Member.merged_into_id.is_(None)
    )
    if trigger.get("event") == "segment.entered" and segment_id:
        query = query.join(SegmentMember, SegmentMember.member_id == Member.id).where(
            SegmentMember.segment_id == int(segment_id)
        )
        return "segment", [int(m) for m in session.scalars(query)]
    return "members", [int(m) for m in session.scalars(query)]


def step_reach(session: Session, merchant_id: int, journey_id: int) -> dict[str, Any]:
    """For each send step: of the audience (see :func:`_audience`), how many its message would
    reach now on its channel and why not the rest (the dispatcher's own checks)."""
    journey = get_journey(session, merchant_id, journey_id)
    basis, members = _audience(session, journey)
    steps = {}
    for step in send_steps(session, journey):
        (answer,) = reach(
            session,
            merchant_id,
            members,
            [str(step["channel"])],
            str(step.get("topic", GENERAL)),
            str(step.get("kind", "marketing")),
        )
        steps[str(step["id"])] = {
            "topic": str(step.get("topic", GENERAL)),
            "kind": str(step.get("kind", "marketing")),
            **answer.as_dict(),
        }
    return {"journey_id": journey.id, "audience": basis, "members": len(members), "steps": steps}
