"""Worker task: pending points become spendable, due lots expire, members hear ahead of expiry."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
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
