"""Member portal: single-use, expiring sign-in links, and the record of portal visits."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core import server_sessions
from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.errors import Conflict, NotFound, PatronError
from patron.members.attention import record_activity
from patron.members.models import Member
from patron.portal.models import PortalLink, PortalSession, PortalVisit
from patron.tenancy.models import Merchant

_SALT = "patron.portal-link"


class PortalLinkExpired(PatronError):
    status_code = 410
    code = "portal_link_expired"


class PortalLinkUsed(Conflict):
    code = "portal_link_used"


class PortalLinkInvalid(NotFound):
    code = "portal_link_invalid"


@dataclass(frozen=True)
class IssuedPortalLink:
    """A sign-in link to hand to a member (by message, or shown to a clerk)."""

    url: str
    expires_at: datetime
    link_id: int


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=_SALT)


def create_portal_link(
    session: Session, merchant_id: int, member_id: int, *, settings: Settings
) -> IssuedPortalLink:
    """Issue a sign-in link for a member of ``merchant_id``: signed, single use, expiring after
    ``settings.portal_link_max_age_seconds``. Another merchant's member is :class:`NotFound`."""
    member = session.get(Member, member_id)
    if (
        member is None
        or member.merchant_id != merchant_id
        or member.merged_into_id is not None
        or member.erased_at is not None
    ):
        raise NotFound("member not found", code="member_not_found")
    now = utcnow(session)
    link = PortalLink(
        merchant_id=merchant_id,
        member_id=member_id,
        nonce=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.portal_link_max_age_seconds),
    )
    session.add(link)
    session.flush()
    token = _serializer(settings).dumps({"l": link.id, "n": link.nonce})
    url = f"{settings.base_url.rstrip('/')}/portal/signin/{token}"
    return IssuedPortalLink(url=url, expires_at=link.expires_at, link_id=link.id)


def _verified_link(session: Session, token: str, settings: Settings) -> PortalLink:
    try:
        claims = _serializer(settings).loads(token)
        link_id, nonce = int(claims["l"]), str(claims["n"])
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise PortalLinkInvalid("this sign-in link is not valid") from exc
    link = session.get(PortalLink, link_id)
    if link is None or not hmac.compare_digest(link.nonce.encode(), nonce.encode()):
        raise PortalLinkInvalid("this sign-in link is not valid")
    return link


def _refusal(link: PortalLink) -> PatronError:
    if link.used_at is not None:
        return PortalLinkUsed("this sign-in link has already been used")
    return PortalLinkExpired("this sign-in link has expired")


def check_portal_link(session: Session, token: str, *, settings: Settings) -> PortalLink:
    """Check a sign-in token without using it up; raises like :func:`redeem_portal_link`."""
    link = _verified_link(session, token, settings)
    if link.used_at is not None or link.expires_at <= utcnow(session):
        raise _refusal(link)
    return link


def redeem_portal_link(session: Session, token: str, *, settings: Settings) -> PortalLink:
    """Check a sign-in token and use it up. A second use is :class:`PortalLinkUsed`, a late one
    :class:`PortalLinkExpired`, a forged or unknown one :class:`PortalLinkInvalid`.

    Expiry is judged by the link's ``expires_at`` against the session's clock (not the token's
    own timestamp), so the injected clock governs it like every other rule."""
    link = _verified_link(session, token, settings)
    now = utcnow(session)
    # One conditional UPDATE: of two browsers racing with the same link, exactly one wins.
    claimed = session.execute(
        update(PortalLink)
        .where(
            PortalLink.id == link.id,
            PortalLink.used_at.is_(None),
            PortalLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(link)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise _refusal(link)
    return link


def record_visit(session: Session, merchant_id: int, member_id: int) -> bool:
    """Note that the member opened the portal today (merchant's calendar); True if this is the
    first visit of the day. At most one row per member and day; the first one also counts
    towards the member's engagement score (:mod:`patron.members.attention`)."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("merchant not found", code="merchant_not_found")
    now = utcnow(session)
    today = now.astimezone(ZoneInfo(merchant.timezone)).date()
    seen = session.scalar(
        select(PortalVisit.id).where(
            PortalVisit.merchant_id == merchant_id,
            PortalVisit.member_id == member_id,
            PortalVisit.visited_on == today,
        )
    )
    if seen is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                PortalVisit(
                    merchant_id=merchant_id, member_id=member_id, visited_on=today, visited_at=now
                )
            )
            session.flush()
    except IntegrityError:
        return False  # a parallel page view of the same member recorded the day first
    record_activity(session, merchant_id, member_id, "portal_visit", f"portal_visit:{today}")
    return True


def start_portal_session(session: Session, link: PortalLink, lifetime_seconds: int) -> str:
    """A portal session for the member a redeemed link signed in; the raw token (for the
    cookie) is returned, its hash kept so that signing out ends every copy of the cookie."""
    return start_member_session(session, link.merchant_id, link.member_id, lifetime_seconds)


def start_member_session(
    session: Session, merchant_id: int, member_id: int, lifetime_seconds: int
) -> str:
    """A portal session for a member who proved who they are (a staff-issued link, a one-time
    code); the raw token for the cookie is returned."""
    return server_sessions.start(
        session, PortalSession, "member_id", merchant_id, member_id, lifetime_seconds
    )


def portal_session_stands(session: Session, raw: str, member_id: int) -> bool:
    """Whether the portal session ``raw`` is the member's and neither ended nor expired."""
    return server_sessions.stands(session, PortalSession, "member_id", raw, member_id)


def end_portal_session(session: Session, raw: str) -> None:
    """Signing out: the session ends on the server (a copied cookie stops working)."""
    server_sessions.end(session, PortalSession, raw)


def end_member_portal_sessions(session: Session, merchant_id: int, member_id: int) -> int:
    """Every open portal session of the member ends (e.g. a member erased or merged away)."""
    return server_sessions.end_all(session, PortalSession, "member_id", merchant_id, member_id)
