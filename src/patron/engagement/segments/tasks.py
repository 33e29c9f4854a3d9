"""Worker tasks that keep segment membership current."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.engagement.segments import service


def follow_events_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    with transaction(sessions) as session:
        return service.follow_events(session)


def refresh_due_task(sessions: sessionmaker[Session], _settings: Settings) -> int:
    with transaction(sessions) as session:
        return service.refresh_due(session)
