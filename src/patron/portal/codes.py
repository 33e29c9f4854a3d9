"""One-time sign-in codes for the member portal, sent to a phone or an email (ADR 1300).

- A code is 6 random digits; only an HMAC of it (keyed with the server's secret, bound to the
  merchant and the address) is stored, so a copy of the database does not yield codes.
- It lasts ``max_age_seconds`` and works once (one conditional UPDATE claims it: of two tabs
  racing with the same code, one wins). Asking again closes the earlier code.
- Every check is counted before the code is compared, per phone/email and per client address,
  by the one atomic counter the dashboard's sign-in uses (``patron.tenancy.login``); past the
  allowance each further try waits 2, 4, 8 … seconds, whether the code was right or wrong.
- Sending is throttled per address (one per ``resend_seconds``) and counted per client address.
- An address that belongs to no member gets a code row too, sent nowhere: the answer and the
  throttle look the same whether the member exists or not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import Conflict, InvalidInput, PatronError
from patron.members.models import IdentityKind, Member
from patron.members.normalize import normalize_email, normalize_phone
from patron.members.service import find_by_identity, phone_region
from patron.portal.models import PortalCode
from patron.tenancy.login import count_key_attempt, forget_key

CODE_DIGITS = 6
# Codes looked at when one is typed: the newest few for the address (a code asked again
# closes the earlier one, but an earlier one typed late should say "expired", not "wrong").
RECENT_CODES = 5


@dataclass(frozen=True)
class CodePolicy:
    """How long a code lasts and how many tries and sends are allowed (settings)."""

    max_age_seconds: int = 600
    resend_seconds: int = 60
    free_failures: int = 5
    client_free_failures: int = 30
    client_free_sends: int = 30
    forget_after_seconds: int = 3600


@dataclass(frozen=True)
class Contact:
    """Where a code goes: ``channel`` is ``sms`` for a phone, ``email`` for an email."""

    channel: str
    address: str

    @property
    def identity_kind(self) -> str:
        return IdentityKind.EMAIL.value if self.channel == "email" else IdentityKind.PHONE.value


@dataclass(frozen=True)
class IssuedCode:
    """A code to send (the raw digits exist only here), or to send nowhere (``member_id`` and
    ``join_form`` both None: the address belongs to no member)."""

    code: str
    contact: Contact
    member_id: int | None
    join_form: dict[str, Any] | None
    expires_at: datetime

    @property
    def deliver(self) -> bool:
        return self.member_id is not None or self.join_form is not None


@dataclass(frozen=True)
class ClaimedCode:
    """A code that was right and is now used up."""

    merchant_id: int
    contact: Contact
    member_id: int | None
    join_form: dict[str, Any] | None


class CodeWrong(PatronError):
    status_code = 422
    code = "code_wrong"


class CodeExpired(PatronError):
    status_code = 410
    code = "code_expired"


class CodeUsed(Conflict):
    code = "code_used"


class ResendTooSoon(PatronError):
    status_code = 429
    code = "code_resend_too_soon"


def contact_of(session: Session, merchant_id: int, typed: str) -> Contact:
    """The phone (E.164, the merchant's region for national numbers) or email typed; 422
    ``invalid_phone`` / ``invalid_email`` when it is neither."""
    text = typed.strip()
    if not text:
        raise InvalidInput("type your phone number or email", code="contact_missing")
    if "@" in text:
        return Contact("email", normalize_email(text))
    return Contact("sms", normalize_phone(text, phone_region(session, merchant_id)))


def member_holding(session: Session, merchant_id: int, contact: Contact) -> Member | None:
    """The live member whose phone or email this is (merged and erased members hold none)."""
    member = find_by_identity(session, merchant_id, contact.identity_kind, contact.address)
    if member is None or member.merged_into_id is not None or member.erased_at is not None:
        return None
    return member


def code_hash(secret_key: str, merchant_id: int, address: str, code: str) -> str:
    message = f"{merchant_id}:{address}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def address_key(merchant_id: int, address: str) -> str:
    return f"code:{merchant_id}:{address}"


def client_key(client: str) -> str:
    return f"code-client:{client}"


def send_key(client: str) -> str:
    return f"code-send:{client}"


def issue_code(
    session: Session,
    merchant_id: int,
    contact: Contact,
    *,
    secret_key: str,
    policy: CodePolicy,
    client: str,
    join_form: dict[str, Any] | None = None,
) -> IssuedCode:
    """A new code for ``contact``. For a member's phone/email it signs that member in; for an
    unknown one with ``join_form`` it creates the member when it comes back; else it is sent
    nowhere (see the module docstring). :class:`ResendTooSoon` within ``resend_seconds`` of
    the last one; :class:`TooManyAttempts` when the client address sent too many."""
    now = utcnow(session)
    last = session.scalar(
        select(PortalCode.created_at)
        .where(PortalCode.merchant_id == merchant_id, PortalCode.address == contact.address)
        .order_by(PortalCode.created_at.desc())
        .limit(1)
    )
    if last is not None and last > now - timedelta(seconds=policy.resend_seconds):
        wait = int((last + timedelta(seconds=policy.resend_seconds) - now).total_seconds()) + 1
        raise ResendTooSoon(
            f"a code was sent moments ago; ask again in {wait} seconds",
            details={"retry_after": wait},
        )
    count_key_attempt(
        session, send_key(client), policy.client_free_sends, policy.forget_after_seconds
    )
    member = member_holding(session, merchant_id, contact)
    # Whoever holds the address already: the code signs them in, and the form is dropped (a
    # join never changes an existing member's profile).
    form = None if member is not None else join_form
    session.execute(
        update(PortalCode)
        .where(
            PortalCode.merchant_id == merchant_id,
            PortalCode.address == contact.address,
            PortalCode.used_at.is_(None),
            PortalCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = PortalCode(
        merchant_id=merchant_id,
        address=contact.address,
        channel=contact.channel,
        code_hash=code_hash(secret_key, merchant_id, contact.address, code),
        member_id=member.id if member is not None else None,
        join_form=form,
        created_at=now,
        expires_at=now + timedelta(seconds=policy.max_age_seconds),
    )
    session.add(row)
    session.flush()
    return IssuedCode(code, contact, row.member_id, form, row.expires_at)


def count_code_attempt(
    sessions: sessionmaker[Session],
    merchant_id: int,
    contact: Contact,
    client: str,
    policy: CodePolicy,
) -> None:
    """Count one try against the phone/email and the client address, committed at once and
    before the code is compared; :class:`TooManyAttempts` (nothing counted further) when
    either is locked."""
    with transaction(sessions) as session:
        count_key_attempt(
            session, client_key(client), policy.client_free_failures, policy.forget_after_seconds
        )
        count_key_attempt(
            session,
            address_key(merchant_id, contact.address),
            policy.free_failures,
            policy.forget_after_seconds,
        )


def redeem_code(
    session: Session, merchant_id: int, contact: Contact, typed: str, *, secret_key: str
) -> ClaimedCode:
    """Use up the code typed for ``contact`` (call :func:`count_code_attempt` first).

    :class:`CodeWrong` when it matches none of the address's recent codes (or one sent
    nowhere), :class:`CodeExpired` / :class:`CodeUsed` when it matches one no longer open.
    Nothing is written unless the code is right."""
    digits = "".join(ch for ch in typed if ch.isdigit())
    if len(digits) != CODE_DIGITS:
        raise CodeWrong("the code is 6 digits")
    wanted = code_hash(secret_key, merchant_id, contact.address, digits)
    recent = session.scalars(
        select(PortalCode)
        .where(PortalCode.merchant_id == merchant_id, PortalCode.address == contact.address)
        .order_by(PortalCode.id.desc())
        .limit(RECENT_CODES)
    )
    found = next((c for c in recent if hmac.compare_digest(c.code_hash, wanted)), None)
    if found is None or (found.member_id is None and found.join_form is None):
        raise CodeWrong("this code is not right")
    now = utcnow(session)
    if found.used_at is not None:
        raise CodeUsed("this code was already used")
    if found.expires_at <= now:
        raise CodeExpired("this code has expired")
    claimed = session.execute(
        update(PortalCode)
        .where(PortalCode.id == found.id, PortalCode.used_at.is_(None), PortalCode.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise CodeUsed("this code was already used")
    forget_key(session, address_key(merchant_id, contact.address))
    return ClaimedCode(merchant_id, contact, found.member_id, found.join_form)


def open_join_form(session: Session, merchant_id: int, contact: Contact) -> dict[str, Any] | None:
    """The sign-up form waiting in the newest code for ``contact`` (a resent code keeps it)."""
    form: dict[str, Any] | None = session.scalar(
        select(PortalCode.join_form)
        .where(PortalCode.merchant_id == merchant_id, PortalCode.address == contact.address)
        .order_by(PortalCode.id.desc())
        .limit(1)
    )
    return form
