"""Worker tasks of the programs: welcome and birthday points, tier evaluations."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.programs.bonuses import grant_birthday_bonuses, grant_welcome_bonuses
from patron.programs.tiers import due_for_evaluation, evaluate_period

BATCH = 200


def programs_schedule(sessions: sessionmaker[Session], settings: Settings) -> int:
    """One batch of each, each in its own transaction; returns the work done (0 when idle)."""
    del settings
    with transaction(sessions) as session:
        done = grant_welcome_bonuses(session, BATCH)
    with transaction(sessions) as session:
        done += grant_birthday_bonuses(session, BATCH)
    with transaction(sessions) as session:
        for merchant_id, member_id in due_for_evaluation(session, BATCH):
            evaluate_period(session, merchant_id, member_id)
            done += 1
    return done
