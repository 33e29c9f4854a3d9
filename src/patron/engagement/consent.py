"""Consent as the message guards read it, and the revocations the pipeline makes.

A row in ``member_consents`` for (channel, topic) decides. A row for topic ``*`` that is not
granted (SMS STOP, a WeChat unfollow, a spam complaint) blocks every topic on that channel.
With no row, marketing needs an opt-in and is refused; transactional and care messages go
(they serve an order or a service the member asked for) until the member says no.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.engagement.models import MessageKind
from patron.members import service as members_service
from patron.members.models import MemberConsent
from patron.members.schemas import ConsentIn

ALL_TOPICS = "*"


def consent_map(
    session: Session, member_ids: Iterable[int], channels: Iterable[str]
) -> dict[tuple[int, str, str], bool]:
    """(member, channel, topic) → granted, for a batch of members (one query)."""
    ids, chans = sorted(set(member_ids)), sorted(set(channels))
    if not ids:
        return {}
    rows = session.execute(
        select(
            MemberConsent.member_id,
            MemberConsent.channel,
            MemberConsent.topic,
            MemberConsent.granted,
        ).where(MemberConsent.member_id.in_(ids), MemberConsent.channel.in_(chans))
    )
    return {(r[0], r[1], r[2]): bool(r[3]) for r in rows}


def allows(
    consents: dict[tuple[int, str, str], bool], member_id: int, channel: str, topic: str, kind: str
) -> bool:
    """May a message of ``kind`` on ``topic`` go to this member on this channel?"""
    if consents.get((member_id, channel, ALL_TOPICS)) is False:
        return False
    explicit = consents.get((member_id, channel, topic))
    if explicit is not None:
        return explicit
    return kind != MessageKind.MARKETING.value


def set_consent(
    session: Session,
    merchant_id: int,
    member_id: int,
    channel: str,
    topic: str,
    granted: bool,
    source: str,
) -> bool:
    """Record a consent decision (effective for the very next guard check); True if it changed.

    One mechanism for every consent change: :func:`patron.members.service.set_consent` writes
    the row, the history in ``consent_changes`` and the ``member.consent_changed`` event. Here
    only the "nothing to change" case is answered first, so a repeated STOP or a second click
    on an unsubscribe link adds no history and no event.
    """
    current = session.scalar(
        select(MemberConsent.granted).where(
            MemberConsent.merchant_id == merchant_id,
            MemberConsent.member_id == member_id,
            MemberConsent.channel == channel,
            MemberConsent.topic == topic,
        )
    )
    if current is not None and bool(current) == granted:
        return False
    change = ConsentIn(channel=channel, topic=topic, granted=granted, source=source)
    members_service.set_consent(session, merchant_id, member_id, change)
    return True
