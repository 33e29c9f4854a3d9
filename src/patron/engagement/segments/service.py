"""Segments: define, count live, materialise, and keep current.

Membership is materialised in ``segment_members``. It is kept current two ways: members named by
new outbox events (a purchase, a tag, a consent change …) are re-evaluated at once by the worker,
and segments whose rules depend on time ("no purchase in 90 days") are fully refreshed on a
schedule. After the first materialisation every change is announced as a ``segment.entered`` /
``segment.left`` event, which journeys can enter on.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import OutboxEvent, consume_outbox, register_event_types
from patron.core.member_fields import Context
from patron.core.paging import newest_first
from patron.engagement.segments import calendar_fields
from patron.engagement.segments.models import Segment, SegmentMember
from patron.engagement.segments.rules import SEGMENT_LOADER, compile_rule
from patron.members.models import Member
from patron.tenancy.models import Merchant

register_event_types("segment.entered", "segment.left")
# The calendar-day fields register themselves on import, as other domains' fields do.
assert calendar_fields.CALENDAR_FIELDS
# Other domains' fields, found by name so that engagement imports none of them (each module is
# light: the analytics one reads the stored predictions, not the analytics engine). Without this
# a process that never loaded the analytics engine refused "probability still a customer".
FIELD_PROVIDERS = (
    "patron.programs.segment_fields",
    "patron.coupons.segment_fields",
    "patron.analytics.segment_fields",
)
for _provider in FIELD_PROVIDERS:
    importlib.import_module(_provider)

REFRESH_EVERY = timedelta(hours=1)
IMPORT_COMPLETED = "import.completed"  # emitted by patron.imports.runner
CURSOR = "segments"
ID_CHUNK = 1000


def _loader(session: Session, merchant_id: int, segment_id: int) -> dict[str, Any]:
    return get_segment(session, merchant_id, segment_id).rules


SEGMENT_LOADER[:] = [_loader]


def compile_segment(
    session: Session, merchant_id: int, rules: dict[str, Any], own_id: int | None = None
) -> tuple[ColumnElement[bool], bool]:
    """The SQL condition of ``rules`` and whether it depends on time."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("merchant not found", code="merchant_not_found")
    ctx = Context(session, merchant_id, utcnow(session), merchant.timezone)
    if own_id is not None:
        ctx.seen_segments.add(own_id)
    condition = compile_rule(ctx, rules)
    return condition, ctx.time_relative


def _members_matching(merchant_id: int, condition: ColumnElement[bool]) -> Any:
    return select(Member.id).where(
        Member.merchant_id == merchant_id, Member.merged_into_id.is_(None), condition
    )


def preview(
    session: Session, merchant_id: int, rules: dict[str, Any], sample: int = 10
) -> dict[str, Any]:
    """The live count (and a few members) of rules being edited; nothing is stored."""
    condition, time_relative = compile_segment(session, merchant_id, rules)
    query = _members_matching(merchant_id, condition)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    members = list(
        session.scalars(
            select(Member)
            .where(Member.id.in_(query.order_by(Member.id.desc()).limit(sample)))
            .order_by(Member.id.desc())
        )
    )
    return {"count": count, "sample": members, "time_relative": time_relative}


def create_segment(
    session: Session,
    merchant_id: int,
    name: str,
    rules: dict[str, Any],
    description: str | None = None,
) -> Segment:
    """A new segment, materialised at once (its first members are not announced)."""
    _, time_relative = compile_segment(session, merchant_id, rules)
    now = utcnow(session)
    segment = Segment(
        merchant_id=merchant_id,
        name=name.strip(),
        description=description,
        rules=rules,
        status="active",
        member_count=0,
        time_relative=time_relative,
        created_at=now,
        updated_at=now,
    )
    if not segment.name:
        raise InvalidInput("a segment needs a name", code="invalid_segment_name")
    session.add(segment)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a segment named {name!r} exists", code="segment_exists") from exc
    _materialise_new(session, segment)
    return segment


def _materialise_new(session: Session, segment: Segment) -> None:
    """First fill of a brand-new (empty) segment: one ``INSERT … SELECT`` straight from the
    compiled condition, no "already a member" anti-join and no recount (the benchmark showed
    both cost 3–4× the plain query at 1,000,000 members), and nothing is announced."""
    condition, _ = compile_segment(session, segment.merchant_id, segment.rules, own_id=segment.id)
    now = utcnow(session)
    done = session.execute(
        insert(SegmentMember).from_select(
            ["merchant_id", "segment_id", "member_id", "entered_at"],
            select(
                literal(segment.merchant_id),
                literal(segment.id),
                Member.id,
                literal(now, type_=SegmentMember.entered_at.type),
            ).where(
                Member.merchant_id == segment.merchant_id,
                Member.merged_into_id.is_(None),
                condition,
            ),
        )
    )
    count = int(getattr(done, "rowcount", -1))
    if count < 0:  # the driver did not report it
        counted = select(func.count()).where(SegmentMember.segment_id == segment.id)
        count = session.scalar(counted) or 0
    segment.member_count = count
    segment.refreshed_at = now
    session.flush()


def update_segment(
    session: Session,
    merchant_id: int,
    segment_id: int,
    *,
    name: str | None = None,
    rules: dict[str, Any] | None = None,
    description: str | None = None,
) -> Segment:
    """Change a segment; new rules re-materialise it and announce who entered and left."""
    segment = get_segment(session, merchant_id, segment_id)
    if name is not None:
        segment.name = name.strip()
    if description is not None:
        segment.description = description
    if rules is not None:
        _, segment.time_relative = compile_segment(session, merchant_id, rules, own_id=segment.id)
        segment.rules = rules
    segment.updated_at = utcnow(session)
    session.flush()
    if rules is not None:
        refresh(session, segment, announce=True)
    return segment


def archive_segment(session: Session, merchant_id: int, segment_id: int) -> Segment:
    segment = get_segment(session, merchant_id, segment_id)
    segment.status = "archived"
    segment.updated_at = utcnow(session)
    session.execute(delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
    segment.member_count = 0
    return segment


def get_segment(session: Session, merchant_id: int, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None or segment.merchant_id != merchant_id:
        raise NotFound("segment not found", code="segment_not_found")
    return segment


def list_segments(
    session: Session,
    merchant_id: int,
    include_archived: bool = False,
    limit: int | None = None,
    cursor: int | None = None,
) -> list[Segment]:
    """The merchant's segments by name; with ``limit``, one page newest first."""
    query = select(Segment).where(Segment.merchant_id == merchant_id)
    if not include_archived:
        query = query.where(Segment.status == "active")
    query = query.order_by(Segment.name)
    return list(session.scalars(newest_first(query, Segment.id, limit, cursor)))


def refresh(
    session: Session,
    segment: Segment,
    *,
    announce: bool = True,
    member_ids: Sequence[int] | None = None,
) -> tuple[int, int]:
    """Re-evaluate the segment (for everyone, or only ``member_ids``); returns (entered, left)."""
    condition, _ = compile_segment(session, segment.merchant_id, segment.rules, own_id=segment.id)
    now = utcnow(session)
    scope = [Member.id.in_(member_ids)] if member_ids is not None else []
    matching = _members_matching(segment.merchant_id, condition).where(*scope)
    already = exists().where(
        SegmentMember.segment_id == segment.id, SegmentMember.member_id == Member.id
    )
    if not announce:
        session.execute(
            insert(SegmentMember).from_select(
                ["merchant_id", "segment_id", "member_id", "entered_at"],
                select(
                    literal(segment.merchant_id),
                    literal(segment.id),
                    Member.id,
                    literal(now, type_=SegmentMember.entered_at.type),
                ).where(Member.id.in_(matching), ~already),
            )
        )
        leaving: list[int] = []
        entering_count = -1
    else:
        entering = list(session.scalars(matching.where(~already)))
        for start in range(0, len(entering), ID_CHUNK):
            chunk = entering[start : start + ID_CHUNK]
            session.execute(
                insert(SegmentMember),
                [
                    {
                        "merchant_id": segment.merchant_id,
                        "segment_id": segment.id,
                        "member_id": m,
                        "entered_at": now,
                    }
                    for m in chunk
                ],
            )
        entering_count = len(entering)
        leaving = _leaving(session, segment, matching, member_ids)
        _announce(session, segment, entering, "segment.entered", now)
    for start in range(0, len(leaving), ID_CHUNK):
        session.execute(
            delete(SegmentMember).where(
                SegmentMember.segment_id == segment.id,
                SegmentMember.member_id.in_(leaving[start : start + ID_CHUNK]),
            )
        )
    _announce(session, segment, leaving, "segment.left", now)
    segment.member_count = (
        session.scalar(select(func.count()).where(SegmentMember.segment_id == segment.id)) or 0
    )
    if member_ids is None:
        segment.refreshed_at = now
    session.flush()
    return entering_count, len(leaving)


def _leaving(
    session: Session, segment: Segment, matching: Any, member_ids: Sequence[int] | None
) -> list[int]:
    query = select(SegmentMember.member_id).where(
        SegmentMember.segment_id == segment.id, SegmentMember.member_id.not_in(matching)
    )
    if member_ids is not None:
        query = query.where(SegmentMember.member_id.in_(member_ids))
    return list(session.scalars(query))


def _announce(
    session: Session, segment: Segment, member_ids: list[int], type_: str, now: datetime
) -> None:
    rows = [
        {
            "merchant_id": segment.merchant_id,
            "type": type_,
            "subject_id": m,
            "payload": {"segment_id": segment.id, "segment": segment.name, "member_id": m},
            "occurred_at": now,
        }
        for m in member_ids
    ]
    for start in range(0, len(rows), ID_CHUNK):
        session.execute(insert(OutboxEvent), rows[start : start + ID_CHUNK])


def segment_members(
    session: Session, merchant_id: int, segment_id: int, limit: int = 50, cursor: int | None = None
) -> list[Member]:
    """The materialised members of a segment, newest first (``limit + 1`` rows for paging)."""
    get_segment(session, merchant_id, segment_id)
    query = (
        select(Member)
        .join(SegmentMember, SegmentMember.member_id == Member.id)
        .where(SegmentMember.segment_id == segment_id)
    )
    if cursor is not None:
        query = query.where(Member.id < cursor)
    return list(session.scalars(query.order_by(Member.id.desc()).limit(limit + 1)))


def member_ids_in(session: Session, segment_id: int) -> list[int]:
    return list(
        session.scalars(
            select(SegmentMember.member_id)
            .where(SegmentMember.segment_id == segment_id)
            .order_by(SegmentMember.member_id)
        )
    )


# --- keeping membership current (worker tasks) -------------------------------------------------


def _affected_members(events: Iterable[OutboxEvent]) -> dict[int, set[int]]:
    by_merchant: dict[int, set[int]] = {}
    for event in events:
        if event.type.startswith("segment."):
            continue
        member_id = event.payload.get("member_id") if isinstance(event.payload, dict) else None
        if event.type.startswith("member.") and event.subject_id is not None:
            member_id = event.subject_id
        if isinstance(member_id, int):
            by_merchant.setdefault(event.merchant_id, set()).add(member_id)
    return by_merchant


def follow_events(session: Session, batch: int = 1000) -> int:
    """Re-evaluate the members named by outbox events since the last run. Returns events read."""

    def handle(events: list[OutboxEvent]) -> None:
        # An import writes its members and orders in bulk, naming none of them in an event: the
        # merchant's segments are refreshed in full once it completes.
        imported = {e.merchant_id for e in events if e.type == IMPORT_COMPLETED}
        for merchant_id in sorted(imported):
            for segment in list_segments(session, merchant_id):
                refresh(session, segment, announce=True)
        for merchant_id, member_ids in _affected_members(events).items():
            if merchant_id in imported:
                continue
            for segment in list_segments(session, merchant_id):
                refresh(session, segment, announce=True, member_ids=sorted(member_ids))

    return consume_outbox(session, CURSOR, handle, batch=batch)


def refresh_due(session: Session) -> int:
    """Fully refresh one time-relative segment whose last refresh is older than REFRESH_EVERY."""
    cutoff = utcnow(session) - REFRESH_EVERY
    segment = session.scalar(
        select(Segment)
        .where(
            Segment.status == "active",
            Segment.time_relative.is_(True),
            (Segment.refreshed_at.is_(None)) | (Segment.refreshed_at < cutoff),
        )
        .order_by(Segment.refreshed_at)
        .limit(1)
    )
    if segment is None:
        return 0
    refresh(session, segment, announce=True)
    return 1


def mark_stale(session: Session, merchant_id: int) -> None:
    """Make every time-relative segment of the merchant due for refresh (e.g. after an import)."""
    session.execute(
        update(Segment)
        .where(Segment.merchant_id == merchant_id, Segment.time_relative.is_(True))
        .values(refreshed_at=None)
    )
