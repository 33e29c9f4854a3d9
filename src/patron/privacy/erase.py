"""Erasing a member on request (PIPL art. 47 / GDPR art. 17) without touching the books.

The member row stays as an anonymous tombstone (ADR 0050): orders, refunds, ledger accounts,
points lots, coupons and messages keep pointing at it, so the ledger still balances and every
total of the merchant (revenue, order counts, points and stored-value liability, analytics) is
what it was. What names or reaches the person goes:

- deleted: identities (the phone, email and external ids are free for another member), tags,
  conversation notes, portal sign-in links, the portal inbox, the wallet pass and the phones
  registered for it, the lunar birthday;
- cleared on the member row: names, gender, birthday, phone, email, address, language, time
  zone, preferences; ``erased_at`` is set, which also ends any portal session;
- anonymised: every personal string (name, phone, email, address, external ids) inside the
  text and JSON of the rows that are kept (message contents, journey contexts, order extras,
  journal notes…), of the outbox's events about them, of stored idempotent results, of import
  reject rows and of webhook receivers' answers;
- stopped: messages still queued are skipped (``member_erased``), journeys in progress exit.

The erasure itself is recorded in ``member_erasures`` (who, when, why, how many rows) and
announced as a ``member.erased`` event carrying only the member id, so webhook receivers can
erase their copy. A second request finds the record and changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, Text, cast, delete, or_, select, update
from sqlalchemy.orm import Session

import patron.models
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.core.events import OutboxEvent, emit, register_event_types
from patron.engagement.journeys.models import EnrolmentStatus
from patron.engagement.models import MessageStatus
from patron.members.models import Member
from patron.members.service import get_member
from patron.privacy.models import MemberErasure
from patron.privacy.scrub import Scrubber, personal_strings
from patron.privacy.tables import MemberRows, collect, text_columns

# Rows that exist only to reach or describe the person: deleted.
DELETED = (
    "member_identities",
    "member_tags",
    "member_notes",
    "portal_links",
    "inbox_items",
    # the wallet pass and, by its key, the phones holding it (device ids, push tokens)
    "wallet_passes",
    "member_lunar_birthdays",
)
_CLEARED = (
    "first_name",
    "last_name",
    "gender",
    "birthday",
    "phone",
    "email",
    "address",
    "locale",
    "timezone",
)
# Columns that hold codes, keys and states, never a person's words: left alone even if a code
# happens to read like a name ("Sent"), so no state machine is broken.
STRUCTURAL = frozenset(
    {
        "status",
        "kind",
        "channel",
        "topic",
        "asset",
        "code",
        "currency",
        "funnel_stage",
        "from_stage",
        "to_stage",
        "tier_code",
        "floor_code",
        "from_code",
        "to_code",
        "dedupe_key",
        "enrolment_key",
        "idempotency_key",
        "request_hash",
        "fingerprint",
        "key",
        "model",
        "grp",
        "state",
        "step_id",
        "reason_code",
        "object_type",
        "rule_version",
        "sku",
        "category",
        "type",
        "nonce",
        "provider_message_id",
        "message_id",
        "external_id",
    }
)
# Tables of the merchant not linked to the member by a key that may still carry their strings
# (a copy made when something happened): searched with LIKE, then anonymised.
SEARCHED = ("outbox_events", "idempotency_keys", "import_rejects", "webhook_attempts")
REASON_MAX = 300
register_event_types("member.erased")


def _table(name: str) -> Table:
    return patron.models.Base.metadata.tables[name]


def _key(table: Table, row: Any) -> list[Any]:
    return [col == getattr(row, col.name) for col in table.primary_key.columns]


def _scrub_rows(session: Session, table: Table, rows: list[Any], scrubber: Scrubber) -> int:
    """Anonymise the text columns of ``rows``; the number of rows changed."""
    columns: list[Column[Any]] = [c for c in text_columns(table) if c.name not in STRUCTURAL]
    changed = 0
    for row in rows:
        values = {}
        for column in columns:
            old = getattr(row, column.name)
            if old is None:
                continue
            new = scrubber.value(old)
            if new != old:
                values[column.name] = new
        if values:
            session.execute(update(table).where(*_key(table, row)).values(**values))
            changed += 1
    return changed


def _search(session: Session, merchant_id: int, table: Table, scrubber: Scrubber) -> list[Any]:
    terms = scrubber.like_terms()
    columns = [c for c in text_columns(table) if c.name not in STRUCTURAL]
    if not terms or not columns:
        return []
    matches = [cast(c, Text).contains(term, autoescape=True) for c in columns for term in terms]
    return list(
        session.execute(select(table).where(table.c.merchant_id == merchant_id, or_(*matches)))
    )


def _events_about(
    session: Session, merchant_id: int, found: MemberRows, member_id: int
) -> list[Any]:
    """The outbox events whose subject is the member or one of their orders, top-ups, coupons."""
    subjects = {member_id}
    for name in ("orders", "refunds", "top_ups", "coupon_codes", "mall_orders", "messages"):
        subjects.update(found.ids(name))
    table = _table("outbox_events")
    rows: list[Any] = []
    ordered = sorted(subjects)
    for start in range(0, len(ordered), 500):
        part = ordered[start : start + 500]
        rows.extend(
            session.execute(
                select(table).where(
                    table.c.merchant_id == merchant_id, OutboxEvent.subject_id.in_(part)
                )
            )
        )
    return rows


def _stop(session: Session, merchant_id: int, member_id: int, now: Any) -> dict[str, int]:
    messages = _table("messages")
    skipped = session.execute(
        update(messages)
        .where(
            messages.c.merchant_id == merchant_id,
            messages.c.member_id == member_id,
            messages.c.status == MessageStatus.QUEUED.value,
        )
        .values(status=MessageStatus.SKIPPED.value, status_reason="member_erased")
    )
    enrolments = _table("journey_enrolments")
    exited = session.execute(
        update(enrolments)
        .where(
            enrolments.c.merchant_id == merchant_id,
            enrolments.c.member_id == member_id,
            enrolments.c.status == EnrolmentStatus.ACTIVE.value,
        )
        .values(
            status=EnrolmentStatus.EXITED.value, next_run_at=None, finished_at=now, updated_at=now
        )
    )
    return {
        "messages_cancelled": skipped.rowcount,  # type: ignore[attr-defined]
        "journeys_exited": exited.rowcount,  # type: ignore[attr-defined]
    }


def _scrubber(member: Member, found: MemberRows) -> Scrubber:
    identities = [row.value for row in found.rows.get("member_identities", [])]
    return Scrubber(
        personal_strings(
            member.first_name,
            member.last_name,
            member.phone,
            member.email,
            member.address,
            identities,
        )
    )


def erase_member(
    session: Session, merchant_id: int, member_id: int, *, actor: str, reason: str
) -> tuple[MemberErasure, bool]:
    """Erase the member's personal data (see the module docstring); returns the erasure record
    and whether this call erased (False: the member was erased before and nothing changed).
    ``reason`` says why (e.g. "member's request of 2026-12-01"), never who.
    Another merchant's member is :class:`NotFound`."""
    member = get_member(session, merchant_id, member_id)
    # Two requests at once: the second waits here, then finds the first one's record.
    session.execute(select(Member.id).where(Member.id == member_id).with_for_update())
    done = session.scalar(
        select(MemberErasure).where(
            MemberErasure.merchant_id == merchant_id, MemberErasure.member_id == member_id
        )
    )
    if done is not None:
        return done, False
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(
            f"say why the member is erased (1 to {REASON_MAX} characters)",
            code="erasure_reason_required",
        )
    session.flush()
    now = utcnow(session)
    found = collect(session, merchant_id, member_id)
    scrubber = _scrubber(member, found)
    counts: dict[str, int] = _stop(session, merchant_id, member_id, now)
    for name in DELETED:
        table = _table(name)
        gone = session.execute(
            delete(table).where(table.c.merchant_id == merchant_id, table.c.member_id == member_id)
        )
        counts[name] = gone.rowcount  # type: ignore[attr-defined]
    if scrubber:
        for name, rows in found.rows.items():
            if name in DELETED or name == "members":
                continue
            counts[name] = _scrub_rows(session, _table(name), rows, scrubber)
        counts["outbox_events"] = _scrub_rows(
            session,
            _table("outbox_events"),
            _events_about(session, merchant_id, found, member_id),
            scrubber,
        )
        for name in SEARCHED:
            rows = _search(session, merchant_id, _table(name), scrubber)
            counts[name] = counts.get(name, 0) + _scrub_rows(session, _table(name), rows, scrubber)
    session.expire(member)
    member = get_member(session, merchant_id, member_id)
    for field in _CLEARED:
        setattr(member, field, None)
    member.preferences = {}
    member.erased_at = member.updated_at = now
    erasure = MemberErasure(
        merchant_id=merchant_id,
        member_id=member_id,
        erased_at=now,
        actor=actor[:80],
        reason=scrubber.text(reason) if scrubber else reason,
        counts={k: v for k, v in sorted(counts.items()) if v},
    )
    session.add(erasure)
    session.flush()
    emit(
        session,
        merchant_id,
        "member.erased",
        {"member_id": member_id, "erased_at": now.isoformat()},
        subject_id=member_id,
    )
    return erasure, True
