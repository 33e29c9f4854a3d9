"""The engagement score: the attention a member pays, as points over a rolling window.

Each activity is a ``member_activities`` row worth :data:`ACTIVITY_POINTS`; the score is the sum
of the points of a member's rows from the last :data:`WINDOW_DAYS` days, so it rises with
attention and falls when attention stops (docs/members.md, ADR 0411):

=================  ======  ==========================================
activity           points  counted at most
=================  ======  ==========================================
``portal_visit``   1       once a day (the merchant's calendar)
``message_open``   1       once per message (pixel, or read in the inbox)
``message_click``  2       once per message (a click also counts as the open)
``review``         3       once per review (for the service domain)
``post``           2       once per community post (for the community domain)
``check_in``       1       once a day (the daily check-in, ADR 1322)
``action``         2       once a day per action name (actions the merchant rewards)
=================  ======  ==========================================

A row's ``dedupe_key`` is unique per member, so a reload, a second pixel fetch or a repeated
click adds nothing. The score is kept by increments (``+ points`` when a row is recorded,
``- points`` when it leaves the window), which stay exact when two activities of one member
are recorded at once; the funnel is re-derived when the score crosses the fan threshold.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import is_postgres, transaction
from patron.core.errors import InvalidInput
from patron.members.funnel import FAN_MIN_ENGAGEMENT, recompute_funnel
from patron.members.models import Member, MemberActivity

ACTIVITY_POINTS = {
    "portal_visit": 1,
    "message_open": 1,
    "message_click": 2,
    "review": 3,
    "post": 2,
    "check_in": 1,
    "action": 2,
}
WINDOW_DAYS = 90
REASONS = {
    "portal_visit": "portal visit",
    "message_open": "message opened",
    "message_click": "message clicked",
    "review": "review written",
    "post": "community post",
    "check_in": "daily check-in",
    "action": "rewarded action",
}
EXPIRED_REASON = f"attention older than {WINDOW_DAYS} days"


def record_activity(
    session: Session,
    merchant_id: int,
    member_id: int,
    kind: str,
    dedupe_key: str,
    at: datetime | None = None,
) -> bool:
    """Count one activity of a member towards their engagement score (at ``at``, default now).

    Returns False, changing nothing, when this member already has ``dedupe_key``. A member who
    crosses the fan threshold moves in the funnel in the same transaction, at this time."""
    points = ACTIVITY_POINTS.get(kind)
    if points is None:
        raise InvalidInput(f"unknown activity {kind!r}", code="invalid_activity")
    now = utcnow(session)
    when = at or now
    live = when >= now - timedelta(days=WINDOW_DAYS)
    maker = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = (
        maker(MemberActivity)
        .values(
            merchant_id=merchant_id,
            member_id=member_id,
            kind=kind,
            points=points,
            dedupe_key=dedupe_key[:120],
            occurred_at=when,
            expired=not live,
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "member_id", "dedupe_key"])
        .returning(MemberActivity.id)
    )
    if session.execute(stmt).scalar() is None:
        return False
    if live:  # an activity from before the window is kept for the record, worth nothing now
        _add_points(session, merchant_id, {member_id: points}, REASONS[kind])
    return True


def _add_points(session: Session, merchant_id: int, deltas: dict[int, int], reason: str) -> None:
    """Change scores by ``deltas`` (one conditional UPDATE each, exact under concurrency) and
    re-derive the stage of those who crossed the fan threshold either way."""
    crossed = []
    for member_id, delta in sorted(deltas.items()):
        if delta == 0:
            continue
        score = session.execute(
            update(Member)
            .where(Member.merchant_id == merchant_id, Member.id == member_id)
            .values(engagement_score=Member.engagement_score + delta)
            .returning(Member.engagement_score)
            .execution_options(synchronize_session=False)
        ).scalar()
        if score is not None and (score - delta < FAN_MIN_ENGAGEMENT) != (
            score < FAN_MIN_ENGAGEMENT
        ):
            crossed.append(member_id)
    # The ORM may hold these members: let it read the new score on its next access.
    for member in session.identity_map.values():
        if isinstance(member, Member) and member.id in deltas:
            session.expire(member, ["engagement_score"])
    recompute_funnel(session, merchant_id, crossed, reason)


def expire_activities(session: Session, batch: int = 1000) -> int:
    """Take the points of activities that left the window off their members' scores (moving
    them down the funnel if they fall under the threshold). Returns how many rows expired.

    Rows are flipped by one conditional UPDATE … RETURNING: of two workers racing for the same
    rows, each subtracts only the rows it flipped itself, so no point is taken off twice."""
    cutoff = utcnow(session) - timedelta(days=WINDOW_DAYS)
    due = (
        select(MemberActivity.id)
        .where(MemberActivity.expired.is_(False), MemberActivity.occurred_at < cutoff)
        .order_by(MemberActivity.occurred_at, MemberActivity.id)
        .limit(batch)
    )
    ids = list(session.scalars(due))
    if not ids:
        return 0
    flipped = session.execute(
        update(MemberActivity)
        .where(MemberActivity.id.in_(ids), MemberActivity.expired.is_(False))
        .values(expired=True)
        .returning(MemberActivity.merchant_id, MemberActivity.member_id, MemberActivity.points)
        .execution_options(synchronize_session=False)
    ).all()
    by_merchant: dict[int, dict[int, int]] = {}
    for merchant_id, member_id, points in flipped:
        deltas = by_merchant.setdefault(merchant_id, {})
        deltas[member_id] = deltas.get(member_id, 0) - points
    for merchant_id, deltas in sorted(by_merchant.items()):
        _add_points(session, merchant_id, deltas, EXPIRED_REASON)
    return len(flipped)


def merge_activities(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    """Move the merged record's activities to the kept member (one row per key: the same day's
    visit under both records counts once) and recount both scores from their live rows."""
    kept_keys = select(MemberActivity.dedupe_key).where(
        MemberActivity.merchant_id == merchant_id, MemberActivity.member_id == keep_id
    )
    session.execute(
        delete(MemberActivity).where(
            MemberActivity.merchant_id == merchant_id,
            MemberActivity.member_id == gone_id,
            MemberActivity.dedupe_key.in_(kept_keys),
        )
    )
    session.execute(
        update(MemberActivity)
        .where(MemberActivity.merchant_id == merchant_id, MemberActivity.member_id == gone_id)
        .values(member_id=keep_id)
        .execution_options(synchronize_session=False)
    )
    live = dict(
        session.execute(
            select(MemberActivity.member_id, func.sum(MemberActivity.points))
            .where(
                MemberActivity.merchant_id == merchant_id,
                MemberActivity.member_id == keep_id,
                MemberActivity.expired.is_(False),
            )
            .group_by(MemberActivity.member_id)
        ).all()
    )
    for member_id in (keep_id, gone_id):
        session.execute(
            update(Member)
            .where(Member.merchant_id == merchant_id, Member.id == member_id)
            .values(engagement_score=int(live.get(member_id) or 0))
        )


def expire_activities_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    """Worker task: expire one batch of activities that left the window."""
    with transaction(sessions) as session:
        return expire_activities(session)
