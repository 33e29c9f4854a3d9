"""Message pipeline settings (``PATRON_MESSAGES_*``), kept apart from the core settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from patron.core.config import PatronSettings


class MessageSettings(PatronSettings):
    """Read like every setting: environment first, then ``./.env`` (``PatronSettings``)."""

    model_config = SettingsConfigDict(env_prefix="PATRON_MESSAGES_")

    # Messages claimed per round by one worker.
    batch_size: int = 200
    # How long a claim holds. A worker stops starting new sends after half of it, so a send is
    # never in flight when another worker may consider it lost (lease > 2 x provider timeout).
    lease_seconds: float = 120.0
    max_attempts: int = 6
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    # An unknown outcome waits this long for a status callback before it is reconciled.
    unknown_grace_seconds: float = 900.0
    # An unknown that cannot be resent safely and never got a callback becomes dead after this.
    unknown_expiry_seconds: float = 172800.0


@lru_cache(maxsize=1)
def get_message_settings() -> MessageSettings:
    return MessageSettings()
