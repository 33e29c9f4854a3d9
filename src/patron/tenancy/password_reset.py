"""Password reset links for staff: the way back in while someone keeps the account locked.

The lockout (``patron.tenancy.login``) refuses every password, the right one too, while it
lasts; an attacker who keeps guessing keeps it locked. Proving the mailbox instead — a
single-use link, valid ``PATRON_PASSWORD_RESET_MAX_AGE_SECONDS`` — lets the owner choose a new
password, which ends every other session and unlocks the account
(docs/decisions/0019-password-reset-beats-the-lockout.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import NotFound
from patron.core.ids import token, token_hash
from patron.tenancy.login import unlock_account
from patron.tenancy.models import StaffPasswordReset, StaffUser
from patron.tenancy.sessions import change_password

# At most one reset email per staff user in this many seconds (no mail bombing).
RESEND_AFTER_SECONDS = 60


class ResetLinkInvalid(NotFound):
    code = "password_reset_invalid"


@dataclass(frozen=True)
class IssuedReset:
    """A reset link to mail to ``email`` (the raw token is never stored)."""

    email: str
    name: str
    raw_token: str


def request_reset(session: Session, email: str, max_age_seconds: int) -> IssuedReset | None:
    """A new reset link for the staff user with this email, or None (unknown or shared email,
    or a link sent less than a minute ago). The caller answers the same either way."""
    users = list(session.scalars(select(StaffUser).where(StaffUser.email == email.strip().lower())))
    if len(users) != 1:
        return None
    user = users[0]
    now = utcnow(session)
    recent = session.scalar(
        select(StaffPasswordReset.id).where(
            StaffPasswordReset.staff_user_id == user.id,
            StaffPasswordReset.created_at > now - timedelta(seconds=RESEND_AFTER_SECONDS),
        )
    )
    if recent is not None:
        return None
    raw = token(24)
    session.add(
        StaffPasswordReset(
            merchant_id=user.merchant_id,
            staff_user_id=user.id,
            token_hash=token_hash(raw),
            created_at=now,
            expires_at=now + timedelta(seconds=max_age_seconds),
        )
    )
    session.flush()
    return IssuedReset(email=user.email, name=user.name, raw_token=raw)


def check_reset(session: Session, raw: str) -> StaffPasswordReset:
    """The open reset with this token, else :class:`ResetLinkInvalid` (used, expired, unknown)."""
    reset = session.scalar(
        select(StaffPasswordReset).where(StaffPasswordReset.token_hash == token_hash(raw))
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow(session):
        raise ResetLinkInvalid("this password reset link is not valid any more")
    return reset


def complete_reset(session: Session, raw: str, new_password: str) -> StaffUser:
    """Use the link up (one conditional UPDATE: of two tabs, one wins), set the password, end
    every session and unlock the account. The caller signs the user in."""
    reset = check_reset(session, raw)
    now = utcnow(session)
    claimed = session.execute(
        update(StaffPasswordReset)
        .where(
            StaffPasswordReset.id == reset.id,
            StaffPasswordReset.used_at.is_(None),
            StaffPasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ResetLinkInvalid("this password reset link is not valid any more")
    user = change_password(session, reset.merchant_id, reset.staff_user_id, new_password)
    unlock_account(session, user.email)
    return user
