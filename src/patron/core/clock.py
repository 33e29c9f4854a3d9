"""An injectable clock so tests can travel in time.

The clock travels on the SQLAlchemy session (``session.info["clock"]``): every service already
receives a session, so every service can ask it the time without another parameter.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests, demo history)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._at += delta
            return self._at


SYSTEM_CLOCK: Clock = SystemClock()


def clock_of(session: Session) -> Clock:
    """The clock bound to this session (the system clock unless a test injected one)."""
    clock = session.info.get("clock")
    return clock if clock is not None else SYSTEM_CLOCK


def utcnow(session: Session) -> datetime:
    """Now, by the session's clock."""
    return clock_of(session).now()
