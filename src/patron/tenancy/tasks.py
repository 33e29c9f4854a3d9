"""Worker task: forget sign-in records nobody can use any more (ended or expired sessions,
spent reset links, failure counters long quiet)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import transaction
from patron.portal.models import PortalSession
from patron.tenancy.models import LoginThrottle, StaffPasswordReset, StaffSession

log = logging.getLogger("patron.tenancy")
# Kept a day after they end, so "signed out at …" can still be looked up.
KEEP = timedelta(days=1)
EVERY_SECONDS = 600.0
BATCH = 1000
_last_run = {"at": float("-inf")}


def purge_sign_in_records(session: Session, forget_after_seconds: int) -> int:
    """Delete up to :data:`BATCH` rows of each kind that can no longer sign anybody in."""
    cutoff = utcnow(session) - KEEP
    done = 0
    for table, ended in (
        (StaffSession, StaffSession.ended_at),
        (PortalSession, PortalSession.ended_at),
        (StaffPasswordReset, StaffPasswordReset.used_at),
    ):
        ids = select(table.id).where(or_(table.expires_at < cutoff, ended < cutoff)).limit(BATCH)
        done += session.execute(delete(table).where(table.id.in_(ids))).rowcount  # type: ignore[attr-defined]
    quiet = utcnow(session) - timedelta(seconds=forget_after_seconds) - KEEP
    keys = (
        select(LoginThrottle.key)
        .where(
            LoginThrottle.updated_at < quiet,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < quiet),
        )
        .limit(BATCH)
    )
    done += session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys))).rowcount  # type: ignore[attr-defined]
    return int(done)


def purge_task(sessions: sessionmaker[Session], settings: Settings) -> int:
    """At most every ten minutes per process (the rows are few and the scan is not free).
    Returns 0 always: housekeeping must not keep a draining worker busy."""
    now = time.monotonic()
    if now - _last_run["at"] < EVERY_SECONDS:
        return 0
    _last_run["at"] = now
    with transaction(sessions) as session:
        purged = purge_sign_in_records(session, settings.login_failures_forget_seconds)
    if purged:
        log.info("sign-in records purged", extra={"rows": purged})
    return 0
