"""Consent as the message guards read it, and the revocations the pipeline makes (ADR 0420).

In order, on the message's channel:

1. a row for topic ``*`` that is not granted (SMS STOP, a WeChat unfollow, a spam complaint)
   blocks every topic;
2. the member's answer for the message's own topic decides (a yes to birthday gifts goes
   even after a no to offers in general, and the reverse);
3. otherwise a marketing message — by its kind, or because its topic is a marketing topic —
   needs the member's answer to the general ``marketing`` topic (what imports record: Shopify's
   "Accepts Email Marketing"); with no answer it is refused;
4. transactional and care messages on a service topic go (they serve an order or a service the
   member asked for) until the member says no.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.engagement.models import MessageKind
from patron.members import service as members_service
from patron.members.models import MemberConsent
from patron.members.schemas import ConsentIn
from patron.members.topics import ALL_TOPICS, GENERAL

__all__ = ["ALL_TOPICS", "GENERAL", "allows", "consent_map", "set_consent"]


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
    consents: dict[tuple[int, str, str], bool],
    member_id: int,
    channel: str,
    topic: str,
    kind: str,
    marketing_topic: bool = False,
) -> bool:
    """May a message of ``kind`` on ``topic`` go to this member on this channel?

    ``marketing_topic``: the merchant lists ``topic`` as a marketing topic."""
    if consents.get((member_id, channel, ALL_TOPICS)) is False:
        return False
    explicit = consents.get((member_id, channel, topic))
    if explicit is not None:
        return explicit
    if kind == MessageKind.MARKETING.value or marketing_topic or topic == GENERAL:
        return consents.get((member_id, channel, GENERAL)) is True
    return True


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
    # A revocation is honoured whatever its topic (an old message's topic may have left the list).
    members_service.set_consent(session, merchant_id, member_id, change, check_topic=granted)
    return True
