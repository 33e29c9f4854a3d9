"""Members: create, update, find, tag, note, consent. Merge lives in ``merge.py``."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import emit
from patron.members import topics
from patron.members.funnel import recompute_funnel, record_initial_stage, stage_for
from patron.members.models import (
    ConsentChange,
    ConsentChannel,
    FunnelTransition,
    IdentityKind,
    Member,
    MemberConsent,
    MemberIdentity,
    MemberNote,
    MemberTag,
)
from patron.members.normalize import (
    normalize_email,
    normalize_gender,
    normalize_phone,
    normalize_tag,
)
from patron.members.schemas import ConsentIn, MemberCreate, MemberUpdate
from patron.tenancy.models import Merchant, Store

CHANNELS = {c.value for c in ConsentChannel}
_PROFILE_FIELDS = ("first_name", "last_name", "birthday", "locale")


def phone_region(session: Session, merchant_id: int) -> str:
    """Default phone region for a merchant: the country of its time zone's locale guess."""
    merchant = session.get(Merchant, merchant_id)
    locale = (merchant.locale if merchant else "en_US").replace("-", "_")
    parts = locale.split("_")
    region = next((p for p in reversed(parts) if len(p) == 2 and p.isupper()), None)
    if region:
        return region
    return "CN" if merchant and merchant.timezone.startswith("Asia/Shanghai") else "US"


def get_member(session: Session, merchant_id: int, member_id: int) -> Member:
    """A member of this merchant, or 404 (also for other merchants' members)."""
    member = session.get(Member, member_id)
    if member is None or member.merchant_id != merchant_id:
        raise NotFound("member not found", code="member_not_found")
    return member


def live_member(session: Session, merchant_id: int, member_id: int) -> Member:
    """A member whose profile may still change: an erased member (ADR 0050) is a 409, so
    no new name, contact, tag, note or consent is attached to the tombstone."""
    member = get_member(session, merchant_id, member_id)
    if member.erased_at is not None:
        raise Conflict(
            "this member's personal data was erased; record a new member instead",
            code="member_erased",
        )
    return member


def find_by_identity(
    session: Session, merchant_id: int, kind: str, value: str, namespace: str = ""
) -> Member | None:
    """The member holding this phone, email or external id (already normalised)."""
    return session.scalar(
        select(Member)
        .join(MemberIdentity, MemberIdentity.member_id == Member.id)
        .where(
            MemberIdentity.merchant_id == merchant_id,
            MemberIdentity.kind == kind,
            MemberIdentity.namespace == namespace,
            MemberIdentity.value == value,
        )
    )


def _claim_identity(
    session: Session, member: Member, kind: str, value: str, namespace: str = ""
) -> None:
    holder = find_by_identity(session, member.merchant_id, kind, value, namespace)
    if holder is not None and holder.id != member.id:
        raise Conflict(
            f"{kind} {value!r} already belongs to member {holder.id}",
            code="identity_taken",
            details={"kind": kind, "value": value, "member_id": holder.id},
        )
    if holder is None:
        session.add(
            MemberIdentity(
                merchant_id=member.merchant_id,
                member_id=member.id,
                kind=kind,
                namespace=namespace,
                value=value,
                created_at=utcnow(session),
            )
        )


def _drop_identity(session: Session, member: Member, kind: str, value: str | None) -> None:
    if value is None:
        return
    session.execute(
        delete(MemberIdentity).where(
            MemberIdentity.member_id == member.id,
            MemberIdentity.kind == kind,
            MemberIdentity.value == value,
        )
    )


def _check_profile(session: Session, merchant_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Normalise contact fields; refuse bad ones with a clear error."""
    out = dict(fields)
    if out.get("phone"):
        out["phone"] = normalize_phone(out["phone"], phone_region(session, merchant_id))
    if out.get("email"):
        out["email"] = normalize_email(out["email"])
    if "gender" in out:
        out["gender"] = normalize_gender(out["gender"])
    if out.get("timezone"):
        try:
            ZoneInfo(out["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(
                f"unknown time zone {out['timezone']!r}", code="invalid_timezone"
            ) from exc
    if out.get("home_store_id") is not None:
        store = session.get(Store, out["home_store_id"])
        if store is None or store.merchant_id != merchant_id:
            raise NotFound("store not found", code="store_not_found")
    for key in ("first_name", "last_name"):
        if isinstance(out.get(key), str):
            out[key] = out[key].strip() or None
    return out


def create_member(session: Session, merchant_id: int, data: MemberCreate) -> Member:
    """A new member with identities, tags and consents; 409 if a phone/email/id is taken."""
    fields = _check_profile(
        session,
        merchant_id,
        data.model_dump(exclude={"external_ids", "tags", "consents", "registered", "source"}),
    )
    now = utcnow(session)
    member = Member(
        merchant_id=merchant_id,
        **{k: v for k, v in fields.items() if k not in {"address", "preferences"}},
        address=data.address.model_dump() if data.address else None,
        preferences=(data.preferences.model_dump() if data.preferences else {}),
        source=data.source,
        registered_at=now if data.registered else None,
        funnel_stage=stage_for(data.registered, 0, 0, 0).value,
        orders_count=0,
        total_spent_minor=0,
        engagement_score=0,
        created_at=now,
        updated_at=now,
    )
    session.add(member)
    session.flush()
    if member.phone:
        _claim_identity(session, member, IdentityKind.PHONE, member.phone)
    if member.email:
        _claim_identity(session, member, IdentityKind.EMAIL, member.email)
    for ext in data.external_ids:
        _claim_identity(
            session, member, IdentityKind.EXTERNAL, ext.value.strip(), ext.namespace.strip()
        )
    add_tags(session, merchant_id, member.id, data.tags, announce=False)
    for consent in data.consents:
        set_consent(session, merchant_id, member.id, consent, announce=False)
    record_initial_stage(session, member, "created")
    session.flush()
    emit(session, merchant_id, "member.created", member_payload(member), subject_id=member.id)
    return member


def update_member(session: Session, merchant_id: int, member_id: int, data: MemberUpdate) -> Member:
    """Change the fields that were sent; contact changes move the member's identities."""
    member = live_member(session, merchant_id, member_id)
    sent = data.model_dump(exclude_unset=True)
    register = sent.pop("registered", None)
    fields = _check_profile(session, merchant_id, sent)
    if "phone" in fields and fields["phone"] != member.phone:
        _drop_identity(session, member, IdentityKind.PHONE, member.phone)
        if fields["phone"]:
            _claim_identity(session, member, IdentityKind.PHONE, fields["phone"])
    if "email" in fields and fields["email"] != member.email:
        _drop_identity(session, member, IdentityKind.EMAIL, member.email)
        if fields["email"]:
            _claim_identity(session, member, IdentityKind.EMAIL, fields["email"])
    for key, value in fields.items():
        setattr(member, key, value)
    if register is True and member.registered_at is None:
        member.registered_at = utcnow(session)
    elif register is False:
        member.registered_at = None
    member.updated_at = utcnow(session)
    session.flush()
    if register is not None:
        recompute_funnel(session, merchant_id, [member.id], "registration changed")
    emit(session, merchant_id, "member.updated", member_payload(member), subject_id=member.id)
    return member


def member_payload(member: Member) -> dict[str, Any]:
    """What webhooks and journeys see of a member."""
    return {
        "id": member.id,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "phone": member.phone,
        "email": member.email,
        "funnel_stage": member.funnel_stage,
        "registered_at": member.registered_at.isoformat() if member.registered_at else None,
    }


def search_members(
    session: Session,
    merchant_id: int,
    q: str | None = None,
    tag: str | None = None,
    stage: str | None = None,
    *,
    limit: int = 50,
    cursor: int | None = None,
    include_merged: bool = False,
) -> list[Member]:
    """Members matching a search (phone — also its last digits —, email or part of it, name,
    a tag or its start, external id), a tag filter and/or a stage; newest first. Fetches
    ``limit + 1`` rows so callers can page."""
    query = select(Member).where(Member.merchant_id == merchant_id)
    if not include_merged:
        query = query.where(Member.merged_into_id.is_(None))
    if q and q.strip():
        query = query.where(_matches(session, merchant_id, q.strip()))
    if tag:
        query = query.where(
            Member.id.in_(
                select(MemberTag.member_id).where(
                    MemberTag.merchant_id == merchant_id, MemberTag.tag == tag
                )
            )
        )
    if stage:
        query = query.where(Member.funnel_stage == stage)
    if cursor is not None:
        query = query.where(Member.id < cursor)
    return list(session.scalars(query.order_by(Member.id.desc()).limit(limit + 1)))


def _matches(session: Session, merchant_id: int, q: str) -> ColumnElement[bool]:
    by_identity = select(MemberIdentity.member_id).where(
        MemberIdentity.merchant_id == merchant_id, MemberIdentity.value == q
    )
    clauses: list[ColumnElement[bool]] = [Member.id.in_(by_identity)]
    if "@" in q:
        clauses.append(Member.email == q.lower())
    digits = "".join(ch for ch in q if ch.isdigit())
    if digits and len(digits) >= 4 and len(digits) >= len(q.replace(" ", "").replace("+", "")) - 2:
        with contextlib.suppress(InvalidInput):
            clauses.append(Member.phone == normalize_phone(q, phone_region(session, merchant_id)))
        clauses.append(Member.phone.like(f"%{digits}"))
    if q.isdigit():
        clauses.append(Member.id == int(q))
    literal = like_literal(q.lower())
    pattern = f"{literal}%"
    clauses.append(func.lower(Member.first_name).like(pattern, escape=LIKE_ESCAPE))
    clauses.append(func.lower(Member.last_name).like(pattern, escape=LIKE_ESCAPE))
    clauses.append(
        func.lower(
            func.coalesce(Member.first_name, "") + " " + func.coalesce(Member.last_name, "")
        ).like(pattern, escape=LIKE_ESCAPE)
    )
    clauses.append(
        func.lower(func.coalesce(Member.last_name, "") + func.coalesce(Member.first_name, "")).like(
            pattern, escape=LIKE_ESCAPE
        )
    )
    # Part of an email ("carol@", "example.com"): a substring, so a scan of the merchant's
    # members — as the name clauses above already are (docs/benchmarks.md "Member search").
    clauses.append(Member.email.like(f"%{literal}%", escape=LIKE_ESCAPE))  # stored lower-case
    # A tag, whole or its start, in any case: "vip" finds "VIP" and "VIP-Gold".
    clauses.append(
        Member.id.in_(
            select(MemberTag.member_id).where(
                MemberTag.merchant_id == merchant_id,
                func.lower(MemberTag.tag).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    )
    return or_(*clauses)


LIKE_ESCAPE = "\\"


def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern with ``LIKE_ESCAPE``: ``%`` and ``_`` match only themselves."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def member_identities(session: Session, merchant_id: int, member_id: int) -> list[MemberIdentity]:
    return list(
        session.scalars(
            select(MemberIdentity)
            .where(MemberIdentity.merchant_id == merchant_id, MemberIdentity.member_id == member_id)
            .order_by(MemberIdentity.kind, MemberIdentity.id)
        )
    )


def member_tags(session: Session, merchant_id: int, member_id: int) -> list[str]:
    return list(
        session.scalars(
            select(MemberTag.tag)
            .where(MemberTag.merchant_id == merchant_id, MemberTag.member_id == member_id)
            .order_by(MemberTag.tag)
        )
    )


def add_tags(
    session: Session,
    merchant_id: int,
    member_id: int,
    tags: Sequence[str],
    *,
    announce: bool = True,
) -> list[str]:
    """Add tags (already present ones are kept once). Returns the member's tags."""
    member = live_member(session, merchant_id, member_id)
    have = set(member_tags(session, merchant_id, member_id))
    now = utcnow(session)
    added = []
    for raw in tags:
        tag = normalize_tag(raw)
        if tag not in have:
            session.add(
                MemberTag(merchant_id=merchant_id, member_id=member_id, tag=tag, created_at=now)
            )
            have.add(tag)
            added.append(tag)
    if added and announce:
        member.updated_at = now
        emit(
            session,
            merchant_id,
            "member.updated",
            {"id": member_id, "tags_added": added},
            subject_id=member_id,
        )
    session.flush()
    return sorted(have)


def remove_tag(session: Session, merchant_id: int, member_id: int, tag: str) -> list[str]:
    """Remove one tag; 404 if the member does not have it."""
    get_member(session, merchant_id, member_id)
    result = session.execute(
        delete(MemberTag).where(
            MemberTag.merchant_id == merchant_id,
            MemberTag.member_id == member_id,
            MemberTag.tag == tag,
        )
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound(f"member has no tag {tag!r}", code="tag_not_found")
    emit(
        session,
        merchant_id,
        "member.updated",
        {"id": member_id, "tags_removed": [tag]},
        subject_id=member_id,
    )
    return member_tags(session, merchant_id, member_id)


def add_note(
    session: Session,
    merchant_id: int,
    member_id: int,
    body: str,
    channel: str,
    staff_user_id: int | None,
    author: str,
    noted_at: datetime | None = None,
) -> MemberNote:
    """Add an entry to the member's conversation log."""
    live_member(session, merchant_id, member_id)
    if not body.strip():
        raise InvalidInput("a note needs some text", code="empty_note")
    note = MemberNote(
        merchant_id=merchant_id,
        member_id=member_id,
        noted_at=noted_at or utcnow(session),
        staff_user_id=staff_user_id,
        author=author,
        channel=channel,
        body=body.strip(),
    )
    session.add(note)
    session.flush()
    return note


def member_notes(
    session: Session, merchant_id: int, member_id: int, limit: int = 200
) -> list[MemberNote]:
    return list(
        session.scalars(
            select(MemberNote)
            .where(MemberNote.merchant_id == merchant_id, MemberNote.member_id == member_id)
            .order_by(MemberNote.noted_at.desc(), MemberNote.id.desc())
            .limit(limit)
        )
    )


def set_consent(
    session: Session,
    merchant_id: int,
    member_id: int,
    consent: ConsentIn,
    *,
    announce: bool = True,
    check_topic: bool = True,
    wording: str | None = None,
    wording_version: str | None = None,
) -> MemberConsent:
    """Grant or revoke consent for one channel and topic, effective at once; history kept.

    The topic must be one of the merchant's topics (or ``*``: every topic); ``check_topic``
    is off only for revocations the message pipeline records (STOP, unsubscribe links).
    ``wording`` / ``wording_version``: the words the member said yes to, kept as proof."""
    if consent.channel not in CHANNELS:
        raise InvalidInput(f"unknown channel {consent.channel!r}", code="invalid_channel")
    if check_topic:
        topics.check_topic(session, merchant_id, consent.topic, allow_all=True)
    live_member(session, merchant_id, member_id)
    now = utcnow(session)
    row = session.scalar(
        select(MemberConsent).where(
            MemberConsent.merchant_id == merchant_id,
            MemberConsent.member_id == member_id,
            MemberConsent.channel == consent.channel,
            MemberConsent.topic == consent.topic,
        )
    )
    if row is None:
        row = MemberConsent(
            merchant_id=merchant_id,
            member_id=member_id,
            channel=consent.channel,
            topic=consent.topic,
        )
        session.add(row)
    row.granted = consent.granted
    row.source = consent.source
    row.changed_at = now
    session.add(
        ConsentChange(
            merchant_id=merchant_id,
            member_id=member_id,
            channel=consent.channel,
            topic=consent.topic,
            granted=consent.granted,
            source=consent.source,
            changed_at=now,
            wording=wording,
            wording_version=wording_version,
        )
    )
    session.flush()
    if announce:
        emit(
            session,
            merchant_id,
            "member.consent_changed",
            {"member_id": member_id, **consent.model_dump()},
            subject_id=member_id,
        )
    return row


def consents(session: Session, merchant_id: int, member_id: int) -> list[MemberConsent]:
    return list(
        session.scalars(
            select(MemberConsent)
            .where(MemberConsent.merchant_id == merchant_id, MemberConsent.member_id == member_id)
            .order_by(MemberConsent.channel, MemberConsent.topic)
        )
    )


def consent_history(session: Session, merchant_id: int, member_id: int) -> list[ConsentChange]:
    return list(
        session.scalars(
            select(ConsentChange)
            .where(ConsentChange.merchant_id == merchant_id, ConsentChange.member_id == member_id)
            .order_by(ConsentChange.changed_at.desc(), ConsentChange.id.desc())
        )
    )


def funnel_history(session: Session, merchant_id: int, member_id: int) -> list[FunnelTransition]:
    return list(
        session.scalars(
            select(FunnelTransition)
            .where(
                FunnelTransition.merchant_id == merchant_id, FunnelTransition.member_id == member_id
            )
            .order_by(FunnelTransition.moved_at, FunnelTransition.id)
        )
    )


__all__ = [
    "add_note",
    "add_tags",
    "consent_history",
    "consents",
    "create_member",
    "find_by_identity",
    "funnel_history",
    "get_member",
    "member_identities",
    "member_notes",
    "member_tags",
    "recompute_funnel",
    "remove_tag",
    "search_members",
    "set_consent",
    "update_member",
]
