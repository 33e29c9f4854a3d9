"""Per-merchant frequency cap and quiet hours, with the documented defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.engagement.models import EngagementPolicy, MessageKind

# Kinds the frequency cap counts, each against its own number (Policy.cap_for).
CAPPED_KINDS = frozenset({MessageKind.MARKETING.value, MessageKind.CARE.value})


@dataclass(frozen=True)
class Policy:
    """A merchant's cap and quiet hours. Marketing and care messages are capped apart, each
    with its own number in the same rolling window; transactional ones never (ADR 0412)."""

    cap_messages: int = 2
    cap_window_days: int = 7
    quiet_hours_enabled: bool = True
    quiet_start: time = time(21, 0)
    quiet_end: time = time(9, 0)
    care_cap_messages: int = 2

    def cap_for(self, kind: str) -> int | None:
        """How many messages of ``kind`` a member may get per window; None: not capped."""
        if kind == MessageKind.MARKETING.value:
            return self.cap_messages
        if kind == MessageKind.CARE.value:
            return self.care_cap_messages
        return None


def parse_hhmm(value: str, field: str) -> time:
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise InvalidInput(f"{field}: use HH:MM", code="invalid_time") from exc


def policy_for(session: Session, merchant_id: int) -> Policy:
    row = session.scalar(
        select(EngagementPolicy).where(EngagementPolicy.merchant_id == merchant_id)
    )
    if row is None:
        return Policy()
    return Policy(
        row.cap_messages,
        row.cap_window_days,
        row.quiet_hours_enabled,
        parse_hhmm(row.quiet_start, "quiet_start"),
        parse_hhmm(row.quiet_end, "quiet_end"),
        row.care_cap_messages,
    )


def set_policy(
    session: Session,
    merchant_id: int,
    *,
    cap_messages: int,
    cap_window_days: int,
    quiet_hours_enabled: bool,
    quiet_start: str,
    quiet_end: str,
    care_cap_messages: int = Policy.care_cap_messages,
) -> EngagementPolicy:
    """Change the merchant's caps and quiet hours (applies from the next dispatch round)."""
    parse_hhmm(quiet_start, "quiet_start")
    parse_hhmm(quiet_end, "quiet_end")
    if cap_messages < 0 or care_cap_messages < 0 or cap_window_days < 1:
        raise InvalidInput(
            "the cap needs messages >= 0 and a window of >= 1 day", code="invalid_cap"
        )
    row = session.scalar(
        select(EngagementPolicy).where(EngagementPolicy.merchant_id == merchant_id)
    )
    if row is None:
        row = EngagementPolicy(merchant_id=merchant_id)
        session.add(row)
    row.cap_messages, row.cap_window_days = cap_messages, cap_window_days
    row.care_cap_messages = care_cap_messages
    row.quiet_hours_enabled, row.quiet_start, row.quiet_end = (
        quiet_hours_enabled,
        quiet_start,
        quiet_end,
    )
    row.updated_at = utcnow(session)
    session.flush()
    return row
