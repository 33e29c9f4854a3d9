"""Dashboard sessions kept on the server, so that they can be ended: at logout, when the
password changes, when the staff user is removed (docs/decisions/0015-server-side-sessions.md).

The signed cookie carries a random token; the ``staff_sessions`` row (found by the token's
hash) says whether it still stands. Ending the row ends the session even in a copied cookie.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from patron.core import server_sessions
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput, NotFound
from patron.tenancy.models import StaffPasswordReset, StaffSession, StaffUser
from patron.tenancy.service import hash_password

OWNER = "staff_user_id"


def start_staff_session(session: Session, user: StaffUser, lifetime_seconds: int) -> str:
    """A new session for ``user``; the raw token (for the cookie) is returned, its hash kept."""
    return server_sessions.start(
        session, StaffSession, OWNER, user.merchant_id, user.id, lifetime_seconds
    )


def staff_session_stands(session: Session, raw: str, staff_user_id: int) -> bool:
    """Whether the session with token ``raw`` belongs to the user and is neither ended nor
    expired."""
    return server_sessions.stands(session, StaffSession, OWNER, raw, staff_user_id)


def end_staff_session(session: Session, raw: str) -> None:
    """Logout: this session ends (other devices of the same user stay signed in)."""
    server_sessions.end(session, StaffSession, raw)


def end_staff_sessions(session: Session, merchant_id: int, staff_user_id: int) -> int:
    """Every open session of the user ends; how many there were."""
    return server_sessions.end_all(session, StaffSession, OWNER, merchant_id, staff_user_id)


def _staff_user(session: Session, merchant_id: int, staff_user_id: int) -> StaffUser:
    user = session.get(StaffUser, staff_user_id)
    if user is None or user.merchant_id != merchant_id:
        raise NotFound("staff user not found", code="staff_not_found")
    return user


def change_password(
    session: Session, merchant_id: int, staff_user_id: int, new_password: str
) -> StaffUser:
    """Set a new password; every session of the user ends (sign in again with the new one)."""
    if len(new_password) < 8:
        raise InvalidInput("password must have at least 8 characters", code="weak_password")
    user = _staff_user(session, merchant_id, staff_user_id)
    user.password_hash = hash_password(new_password)
    end_staff_sessions(session, merchant_id, staff_user_id)
    session.execute(
        update(StaffPasswordReset)
        .where(
            StaffPasswordReset.merchant_id == merchant_id,
            StaffPasswordReset.staff_user_id == staff_user_id,
            StaffPasswordReset.used_at.is_(None),
        )
        .values(used_at=utcnow(session))
    )
    return user


def remove_staff_user(session: Session, merchant_id: int, staff_user_id: int) -> None:
    """The login is deleted and its sessions with it (notes and imports keep their text,
    their author link becomes empty)."""
    _staff_user(session, merchant_id, staff_user_id)
    end_staff_sessions(session, merchant_id, staff_user_id)
    session.execute(
        delete(StaffUser).where(StaffUser.merchant_id == merchant_id, StaffUser.id == staff_user_id)
    )
