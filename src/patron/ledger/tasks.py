"""Worker task: pending points become spendable, due lots expire, members hear ahead of expiry."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.ledger.schedule import DEFAULT_EXPIRING_SOON_DAYS
from patron.ledger.service import (
    announce_expiring_points,
    expire_points,
    release_pending_points,
)

BATCH = 200


def points_schedule(sessions: sessionmaker[Session], settings: Settings) -> int:
    """One batch of each, each in its own transaction; returns the lots handled (0 when idle)."""
    del settings  # the expiring-soon lead time is each merchant's points setting
    with transaction(sessions) as session:
        released = release_pending_points(session, None, limit=BATCH)
    with transaction(sessions) as session:
        expired = expire_points(session, None, limit=BATCH)
    with transaction(sessions) as session:
        announced = announce_expiring_points(session, None)
    return released + expired + announced


@dataclass(frozen=True)
class ScheduleRun:
    """Lots handled by :func:`expire_until_idle`."""

    released: int = 0
    expired: int = 0
    announced: int = 0


def expire_until_idle(
    sessions: sessionmaker[Session],
    merchant_id: int | None = None,
    days: int = DEFAULT_EXPIRING_SOON_DAYS,
    batch: int = BATCH,
) -> ScheduleRun:
    """``patron expire``: release, expire and announce in batches of ``batch`` lots, one
    transaction per batch, until nothing is left due (``merchant_id`` None: every merchant).
    ``days``: the expiring-soon lead time for merchants without their own."""
    run = ScheduleRun()
    while True:
        with transaction(sessions) as session:
            released = release_pending_points(session, merchant_id, limit=batch)
            expired = expire_points(session, merchant_id, limit=batch)
            announced = announce_expiring_points(session, merchant_id, days)
        run = ScheduleRun(run.released + released, run.expired + expired, run.announced + announced)
        if released + expired + announced == 0:
            return run
