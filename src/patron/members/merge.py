"""Merging two member records of the same person: nothing of either is lost.

Everything that pointed at the merged member now points at the kept one: identities, tags,
notes, consents and their history, funnel history, orders. Other domains (ledger, programs,
engagement, coupons, portal) register a hook in ``patron.core.merge_hooks`` to move their rows
in the same transaction; a merge loads every hook module first (entry points and the built-in
names), so no caller can merge without them and members imports none of them (ADR 0370, 0920).
The merged record stays as a tombstone with ``merged_into_id`` so old references resolve.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.core.events import emit
from patron.core.merge_hooks import MERGE_HOOKS, STAGE_AFTER, load_merge_hooks, stage_of
from patron.members.attention import merge_activities
from patron.members.funnel import recompute_funnel
from patron.members.models import (
    ConsentChange,
    FunnelTransition,
    Member,
    MemberConsent,
    MemberIdentity,
    MemberNote,
    MemberTag,
)
from patron.members.service import get_member, member_payload
from patron.members.summary import refresh_member_summary
from patron.orders.models import Order

_FILLABLE = (
    "first_name",
    "last_name",
    "gender",
    "birthday",
    "phone",
    "email",
    "address",
    "locale",
    "timezone",
    "home_store_id",
)


def repoint(session: Session, model: type, merchant_id: int, keep_id: int, gone_id: int) -> None:
    """Point the rows of ``model`` that belong to member ``gone_id`` at ``keep_id``."""
    session.execute(
        update(model)
        .where(model.merchant_id == merchant_id, model.member_id == gone_id)  # type: ignore[attr-defined]
        .values(member_id=keep_id)
        .execution_options(synchronize_session=False)
    )


def _merge_tags(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    kept = set(session.scalars(select(MemberTag.tag).where(MemberTag.member_id == keep_id)))
    for tag in session.scalars(select(MemberTag).where(MemberTag.member_id == gone_id)):
        if tag.tag in kept:
            session.delete(tag)
        else:
            tag.member_id = keep_id


def _merge_consents(session: Session, keep_id: int, gone_id: int) -> None:
    """The most recent decision per (channel, topic) wins; history of both is kept."""
    kept = {
        (c.channel, c.topic): c
        for c in session.scalars(select(MemberConsent).where(MemberConsent.member_id == keep_id))
    }
    for c in session.scalars(select(MemberConsent).where(MemberConsent.member_id == gone_id)):
        mine = kept.get((c.channel, c.topic))
        if mine is None:
            c.member_id = keep_id
            continue
        if c.changed_at > mine.changed_at:
            mine.granted, mine.source, mine.changed_at = c.granted, c.source, c.changed_at
        session.delete(c)


def _merge_profile(keep: Member, gone: Member) -> None:
    for field in _FILLABLE:
        if getattr(keep, field) in (None, "") and getattr(gone, field) not in (None, ""):
            setattr(keep, field, getattr(gone, field))
            if field in ("phone", "email"):
                setattr(gone, field, None)
    prefs = {k: list(v) for k, v in (keep.preferences or {}).items()}
    for key, values in (gone.preferences or {}).items():
        prefs[key] = list(dict.fromkeys([*prefs.get(key, []), *values]))
    keep.preferences = prefs
    starts = [t for t in (keep.registered_at, gone.registered_at) if t is not None]
    keep.registered_at = min(starts) if starts else None
    keep.created_at = min(keep.created_at, gone.created_at)


def merge_members(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> Member:
    """Fold member ``gone_id`` into ``keep_id``; returns the kept member."""
    load_merge_hooks()
    if keep_id == gone_id:
        raise InvalidInput("cannot merge a member into itself", code="merge_same_member")
    keep = get_member(session, merchant_id, keep_id)
    gone = get_member(session, merchant_id, gone_id)
    if keep.merged_into_id is not None or gone.merged_into_id is not None:
        raise InvalidInput("one of these members was already merged", code="already_merged")
    if keep.erased_at is not None or gone.erased_at is not None:
        raise InvalidInput("one of these members was erased", code="member_erased")
    session.flush()
    for model in (MemberIdentity, MemberNote, ConsentChange, FunnelTransition, Order):
        repoint(session, model, merchant_id, keep_id, gone_id)
    _merge_tags(session, merchant_id, keep_id, gone_id)
    _merge_consents(session, keep_id, gone_id)
    merge_activities(session, merchant_id, keep_id, gone_id)
    for hook in MERGE_HOOKS:
        if stage_of(hook) < STAGE_AFTER:
            hook(session, merchant_id, keep_id, gone_id)
    _merge_profile(keep, gone)
    now = utcnow(session)
    gone.merged_into_id = keep_id
    gone.updated_at = keep.updated_at = now
    session.flush()
    refresh_member_summary(session, merchant_id, [keep_id, gone_id])
    recompute_funnel(session, merchant_id, [keep_id], f"merged with member {gone_id}")
    for hook in MERGE_HOOKS:
        if stage_of(hook) >= STAGE_AFTER:
            hook(session, merchant_id, keep_id, gone_id)
    keep = get_member(session, merchant_id, keep_id)
    emit(
        session,
        merchant_id,
        "member.merged",
        {"kept": member_payload(keep), "merged_member_id": gone_id},
        subject_id=keep_id,
    )
    return keep
