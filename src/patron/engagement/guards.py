"""The checks before every send, in this order: consent → frequency cap → quiet hours →
dedupe (then render, then send). Consent lives in :mod:`patron.engagement.consent`.

The cap counts marketing and care messages apart, each against its own number in the
merchant's window (:meth:`patron.engagement.policy.Policy.cap_for`); transactional messages
(receipts, order and delivery updates, sign-in links) are never capped (ADR 0412).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from patron.core.db import is_postgres
from patron.engagement.models import Message, MessageKind, MessageStatus
from patron.engagement.policy import Policy

# Messages that count against the cap: everything that reached, or may have reached, a member.
CAP_COUNTED = (
    MessageStatus.SENDING.value,
    MessageStatus.SENT.value,
    MessageStatus.DELIVERED.value,
    MessageStatus.READ.value,
    MessageStatus.UNKNOWN.value,
)
# A namespace for advisory locks so ours never collide with another feature's member locks.
_CAP_LOCK_NAMESPACE = 0x4D534700_00000000


def lock_members_for_cap(session: Session, member_ids: Iterable[int]) -> None:
    """On PostgreSQL, serialise cap decisions per member across workers (in id order, so two
    workers never deadlock). SQLite has one writer at a time already."""
    if not is_postgres(session):
        return
    for member_id in sorted(set(member_ids)):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CAP_LOCK_NAMESPACE | member_id}
        )


def capped_counts(
    session: Session,
    merchant_id: int,
    member_ids: Iterable[int],
    since: datetime,
    now: datetime,
    own_batch: Iterable[int] = (),
    kind: str = MessageKind.MARKETING.value,
) -> dict[int, int]:
    """Messages of ``kind`` dispatched to each member since ``since`` (all channels).

    Besides what was sent (or may have been), a ``queued`` message another worker has prepared
    and still holds under its lease counts too: it is about to become ``sending``. The caller's
    own claimed batch is left out (it adds its survivors itself).
    """
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    leased = (
        (Message.status == MessageStatus.QUEUED.value)
        & (Message.locked_until > now)
        & Message.id.not_in(sorted(set(own_batch)))
    )
    rows = session.execute(
        select(Message.member_id, func.count())
        .where(
            Message.member_id.in_(ids),
            Message.merchant_id == merchant_id,
            Message.kind == kind,
            Message.dispatched_at >= since,
            or_(Message.status.in_(CAP_COUNTED), leased),
        )
        .group_by(Message.member_id)
    )
    return {int(member_id): int(count) for member_id, count in rows}


def marketing_counts(
    session: Session,
    merchant_id: int,
    member_ids: Iterable[int],
    since: datetime,
    now: datetime,
    own_batch: Iterable[int] = (),
) -> dict[int, int]:
    """Marketing messages dispatched to each member since ``since`` (:func:`capped_counts`)."""
    return capped_counts(session, merchant_id, member_ids, since, now, own_batch)


def zone(member_tz: str | None, merchant_tz: str) -> ZoneInfo:
    """The member's time zone, else the merchant's, else UTC (an unknown name falls through)."""
    for name in (member_tz, merchant_tz):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _in_window(at: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end  # the window wraps midnight (21:00–09:00)


def quiet_until(now: datetime, tz: ZoneInfo, policy: Policy) -> datetime | None:
    """When quiet hours end, if ``now`` is inside them in ``tz``; else None."""
    if not policy.quiet_hours_enabled:
        return None
    local = now.astimezone(tz)
    if not _in_window(local.time(), policy.quiet_start, policy.quiet_end):
        return None
    opening_day = local.date()
    if policy.quiet_start > policy.quiet_end and local.time() >= policy.quiet_start:
        opening_day += timedelta(days=1)
    opening = datetime.combine(opening_day, policy.quiet_end, tzinfo=tz)
    return opening.astimezone(now.tzinfo)
