"""Scan to join: a store's (or a staff member's) join link, and the member it creates.

The link carries a signed reference to the merchant, the store and (for a staff member's own
link) the staff user, so a link of one merchant can never create a member at another, and a
staff reference cannot be forged or moved to another merchant. The sign-up form waits in the
one-time code (``patron.portal.codes``); the member is created only when the code comes back,
with the same ``member.created`` event every member creation emits (welcome journeys, points),
consent with the words shown as proof, and a ``member_joins`` row for the attribution.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import NotFound
from patron.members import lunar
from patron.members import service as members
from patron.members.schemas import ConsentIn, MemberCreate, Preferences
from patron.portal.codes import ClaimedCode, CodeWrong, member_holding
from patron.portal.models import MemberJoin
from patron.tenancy.models import Merchant, StaffUser, Store

_SALT = "patron.join-link"
_SOURCE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class JoinLinkInvalid(NotFound):
    code = "join_link_invalid"


@dataclass(frozen=True)
class JoinLink:
    """Where a join comes from: the store, the staff member whose own link it is, the source."""

    merchant_id: int
    store_id: int | None
    staff_user_id: int | None
    source: str | None


@dataclass(frozen=True)
class Joined:
    """The member signed in after a code; ``created`` when the join made them a member."""

    member_id: int
    created: bool


def join_token(secret_key: str, merchant_id: int, store_id: int, staff_user_id: int | None) -> str:
    """The signed part of a join link (no expiry: it is printed on posters)."""
    payload = [merchant_id, store_id] + ([staff_user_id] if staff_user_id else [])
    return str(URLSafeSerializer(secret_key, salt=_SALT).dumps(payload))


def join_path(
    secret_key: str,
    merchant: Merchant,
    store_id: int,
    staff_user_id: int | None = None,
    source: str | None = None,
) -> str:
    """``/portal/<merchant>/join/<token>[?src=<source>]``."""
    token = join_token(secret_key, merchant.id, store_id, staff_user_id)
    path = f"/portal/{merchant.slug}/join/{token}"
    return f"{path}?src={source}" if source else path


def clean_source(source: str | None) -> str | None:
    """A campaign or poster name from the link (letters, digits, ``_.-``); anything else is
    dropped rather than refused, so a mangled poster link still lets people join."""
    if source and _SOURCE.match(source):
        return source
    return None


def read_join_link(
    session: Session, secret_key: str, merchant: Merchant, token: str | None, source: str | None
) -> JoinLink:
    """The link's store and staff, checked against ``merchant`` (the one in the path): another
    merchant's token, store or staff member is :class:`JoinLinkInvalid`. No token: a join
    from the merchant's own sign-in page (no store)."""
    if token is None:
        return JoinLink(merchant.id, None, None, clean_source(source) or "portal")
    try:
        payload = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
        merchant_id, store_id = int(payload[0]), int(payload[1])
        staff_id = int(payload[2]) if len(payload) > 2 else None
    except (BadSignature, IndexError, TypeError, ValueError) as exc:
        raise JoinLinkInvalid("this join link is not valid") from exc
    store = session.get(Store, store_id)
    if merchant_id != merchant.id or store is None or store.merchant_id != merchant.id:
        raise JoinLinkInvalid("this join link is not valid")
    if staff_id is not None:
        staff = session.get(StaffUser, staff_id)
        if staff is None or staff.merchant_id != merchant.id:
            raise JoinLinkInvalid("this join link is not valid")
    return JoinLink(merchant.id, store_id, staff_id, clean_source(source))


def wording_version(wording: str) -> str:
    """A version of the consent words: changes whenever the words do."""
    return hashlib.sha256(wording.encode()).hexdigest()[:16]


def join_form(
    link: JoinLink,
    *,
    first_name: str,
    last_name: str,
    birthday: date | None,
    locale: str,
    consents: list[tuple[str, str]],
    lunar_birthday: lunar.Lunar | None = None,
    categories: list[str] | None = None,
) -> dict[str, Any]:
    """What waits in the code until it comes back: the profile, the attribution, and each
    consent as (topic, the exact words shown)."""
    return {
        "first_name": first_name.strip()[:120] or None,
        "last_name": last_name.strip()[:120] or None,
        "birthday": birthday.isoformat() if birthday else None,
        "lunar_birthday": (
            [lunar_birthday.month, lunar_birthday.day, lunar_birthday.leap]
            if lunar_birthday
            else None
        ),
        "locale": locale,
        "store_id": link.store_id,
        "staff_user_id": link.staff_user_id,
        "source": link.source,
        "consents": [{"topic": t, "wording": w} for t, w in consents],
        "categories": list(categories or [])[:50],
    }


def complete(session: Session, claimed: ClaimedCode) -> Joined:
    """The member a right code signs in: the member it was sent to, the member who holds the
    address now (never a second one), or a new member made from the join form."""
    if claimed.member_id is not None:
        member = member_holding(session, claimed.merchant_id, claimed.contact)
        if member is None or member.id != claimed.member_id:
            raise CodeWrong("this code is not right any more")
        return Joined(member.id, False)
    holder = member_holding(session, claimed.merchant_id, claimed.contact)
    if holder is not None:  # joined meanwhile (another tab, the till): sign in, change nothing
        return Joined(holder.id, False)
    if claimed.join_form is None:
        raise CodeWrong("this code is not right")
    try:
        with session.begin_nested():
            member_id = _create(session, claimed, claimed.join_form)
    except IntegrityError:  # a parallel join of the same address won
        holder = member_holding(session, claimed.merchant_id, claimed.contact)
        if holder is None:
            raise
        return Joined(holder.id, False)
    return Joined(member_id, True)


def _create(session: Session, claimed: ClaimedCode, form: dict[str, Any]) -> int:
    contact = claimed.contact
    birthday = form.get("birthday")
    member = members.create_member(
        session,
        claimed.merchant_id,
        MemberCreate(
            first_name=form.get("first_name"),
            last_name=form.get("last_name"),
            birthday=date.fromisoformat(birthday) if birthday else None,
            phone=contact.address if contact.channel == "sms" else None,
            email=contact.address if contact.channel == "email" else None,
            locale=form.get("locale"),
            home_store_id=form.get("store_id"),
            registered=True,
            source="join",
            preferences=(
                Preferences(categories=form["categories"]) if form.get("categories") else None
            ),
        ),
    )
    moon = form.get("lunar_birthday")
    if moon:
        lunar.set_lunar_birthday(
            session,
            claimed.merchant_id,
            member.id,
            lunar.check(int(moon[0]), int(moon[1]), bool(moon[2])),
        )
    for consent in form.get("consents") or []:
        wording = str(consent["wording"])
        members.set_consent(
            session,
            claimed.merchant_id,
            member.id,
            ConsentIn(channel=contact.channel, topic=consent["topic"], granted=True, source="join"),
            announce=False,
            wording=wording,
            wording_version=wording_version(wording),
        )
    session.add(
        MemberJoin(
            merchant_id=claimed.merchant_id,
            member_id=member.id,
            store_id=form.get("store_id"),
            staff_user_id=form.get("staff_user_id"),
            source=form.get("source"),
            joined_at=utcnow(session),
        )
    )
    session.flush()
    return member.id


def joined_online(session: Session, merchant_id: int) -> dict[int | None, int]:
    """Members who joined by themselves, per store (None: not through a store's link)."""
    rows = session.execute(
        select(MemberJoin.store_id, func.count())
        .where(MemberJoin.merchant_id == merchant_id)
        .group_by(MemberJoin.store_id)
    )
    return {store_id: int(count) for store_id, count in rows}
