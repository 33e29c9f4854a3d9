"""Dashboard sign-in: passwords checked only after the attempt is counted, atomically.

Each attempt is counted against the account (``account:<email>``) and the client address
(``address:<ip>``) by one conditional upsert per key, committed in a short transaction of its
own before the password is checked. A key that is locked refuses the attempt without checking
anything, so however many attempts arrive at once, at most ``free_failures`` of them ever reach
the password check before the account locks (docs/decisions/0016-login-lockout-counted-first.md).
The argon2 check itself runs with no transaction open, so it holds no row lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import TooManyAttempts, Unauthorized
from patron.tenancy.models import LoginThrottle, StaffUser
from patron.tenancy.service import check_password, login_delay_seconds, rehash_if_needed


@dataclass(frozen=True)
class LoginPolicy:
    """How many wrong passwords an account and an address get before waiting (settings)."""

    account_free_failures: int = 5
    address_free_failures: int = 20
    # Failures older than this (with no attempt since) are forgotten.
    forget_after_seconds: int = 3600


def account_key(email: str) -> str:
    return f"account:{email.strip().lower()}"


def address_key(address: str) -> str:
    return f"address:{address}"


def _locked(wait_seconds: int) -> TooManyAttempts:
    wait = max(wait_seconds, 1)
    return TooManyAttempts(
        f"too many failed logins; try again in {wait} seconds", details={"retry_after": wait}
    )


def count_key_attempt(session: Session, key: str, free_failures: int, forget_after: int) -> None:
    """Count one attempt on ``key`` in one statement, or raise :class:`TooManyAttempts` if the
    key is locked. The statement takes the row lock (PostgreSQL) or the database lock (SQLite),
    so two attempts can never read the same count.

    The one counter for every secret someone may guess: dashboard passwords here, the portal's
    one-time codes (``patron.portal.codes``, keys ``code:…``) too."""
    now = utcnow(session)
    table = LoginThrottle.__table__
    insert: Any = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    statement = (
        insert(LoginThrottle)
        .values(key=key, failures=1, locked_until=None, updated_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case(
                    (table.c.updated_at < now - timedelta(seconds=forget_after), 1),
                    else_=table.c.failures + 1,
                ),
                "updated_at": now,
            },
            where=or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
        )
        .returning(table.c.failures)
    )
    failures = session.execute(statement).scalar()
    if failures is None:
        locked_until: datetime | None = session.scalar(
            select(LoginThrottle.locked_until).where(LoginThrottle.key == key)
        )
        wait = (locked_until - now).total_seconds() if locked_until else 1
        raise _locked(int(wait) + 1)
    delay = login_delay_seconds(failures, free_failures)
    if delay:
        # Still under the row lock of the upsert: the next attempt sees this lock.
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(locked_until=now + timedelta(seconds=delay))
        )


def count_attempt(session: Session, email: str, address: str, policy: LoginPolicy) -> None:
    """Count a sign-in attempt against the address, then the account; raises
    :class:`TooManyAttempts` (nothing else counted) when either is locked."""
    count_key_attempt(
        session, address_key(address), policy.address_free_failures, policy.forget_after_seconds
    )
    count_key_attempt(
        session, account_key(email), policy.account_free_failures, policy.forget_after_seconds
    )


def forget_key(session: Session, key: str) -> None:
    """The key's failures forgotten (its owner proved who they are)."""
    session.execute(
        update(LoginThrottle).where(LoginThrottle.key == key).values(failures=0, locked_until=None)
    )


def forget_failures(session: Session, email: str, address: str) -> None:
    """After a right password: the account starts afresh; the address gets its attempt back
    (but keeps the failures others made from it)."""
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == account_key(email))
        .values(failures=0, locked_until=None)
    )
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == address_key(address), LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1)
    )


def unlock_account(session: Session, email: str) -> None:
    """The account's failures forgotten (its owner proved who they are another way)."""
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == account_key(email))
        .values(failures=0, locked_until=None)
    )


def sign_in(
    sessions: sessionmaker[Session], email: str, password: str, address: str, policy: LoginPolicy
) -> int:
    """Check a dashboard login; the staff user's id, else :class:`Unauthorized` or
    :class:`TooManyAttempts`. Opens its own short transactions (the attempt is counted and
    committed before the password is checked, whatever happens next)."""
    with transaction(sessions) as session:
        count_attempt(session, email, address, policy)
        users = list(
            session.execute(
                select(StaffUser.id, StaffUser.password_hash).where(
                    StaffUser.email == email.strip().lower()
                )
            )
        )
    user_id, stored = users[0] if len(users) == 1 else (None, None)
    try:
        check_password(stored, password)
    except (VerificationError, InvalidHashError) as exc:
        raise Unauthorized("wrong email or password", code="invalid_credentials") from exc
    assert user_id is not None and stored is not None  # check_password refuses a missing user
    with transaction(sessions) as session:
        forget_failures(session, email, address)
        user = session.get(StaffUser, user_id)
        if user is None:  # removed meanwhile
            raise Unauthorized("wrong email or password", code="invalid_credentials")
        user.last_login_at = utcnow(session)
        rehash_if_needed(user, password)
    return user_id
