"""What happened to a group of messages, counted the same way on every page and in the API.

Six outcomes, never merged into one "sent" (ADR 0421):

- ``queued``: waiting in the outbox (new, held by quiet hours, waiting for a retry, or being
  handed over right now); ``held`` says how many of them wait for quiet hours to end;
- ``sent``: the provider accepted it and has not reported delivery (yet);
- ``delivered``: the provider (or the portal's inbox) reports it reached the member; read
  messages count here too;
- ``skipped``: a guard stopped it before it left — ``skipped_by_reason`` says which;
- ``failed``: refused or bounced by the provider, or retries ran out (``failed_by_reason``);
- ``unknown``: a timeout or a lost worker: it may have gone; reconciled later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.orm import Session

from patron.engagement.models import Message, MessageStatus

BUCKETS = ("queued", "sent", "delivered", "skipped", "failed", "unknown")
_BUCKET_OF = {
    MessageStatus.QUEUED.value: "queued",
    MessageStatus.SENDING.value: "queued",
    MessageStatus.SENT.value: "sent",
    MessageStatus.DELIVERED.value: "delivered",
    MessageStatus.READ.value: "delivered",
    MessageStatus.SKIPPED.value: "skipped",
    MessageStatus.FAILED.value: "failed",
    MessageStatus.BOUNCED.value: "failed",
    MessageStatus.DEAD.value: "failed",
    MessageStatus.UNKNOWN.value: "unknown",
}


@dataclass
class MessageCounts:
    """Counts of one group of messages by outcome (see the module's docstring)."""

    queued: int = 0
    sent: int = 0
    delivered: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    held: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    failed_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(getattr(self, b) for b in BUCKETS)

    @property
    def went_out(self) -> int:
        """Messages that left (or may have left): sent, delivered and unknown."""
        return self.sent + self.delivered + self.unknown

    @property
    def outcome(self) -> str:
        """``none`` (no message yet), ``waiting`` (some still queued), ``nothing_sent`` (every
        one stopped or failed), or ``went`` (at least one left)."""
        if self.total == 0:
            return "none"
        if self.queued:
            return "waiting"
        return "went" if self.went_out else "nothing_sent"

    def add(self, status: str, reason: str | None, n: int) -> None:
        bucket = _BUCKET_OF.get(status, "unknown")
        setattr(self, bucket, getattr(self, bucket) + n)
        if bucket == "queued" and reason == "quiet_hours":
            self.held += n
        elif bucket == "skipped":
            why = reason or "other"
            self.skipped_by_reason[why] = self.skipped_by_reason.get(why, 0) + n
        elif bucket == "failed":
            why = _failure(status, reason)
            self.failed_by_reason[why] = self.failed_by_reason.get(why, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            **{b: getattr(self, b) for b in BUCKETS},
            "total": self.total,
            "held": self.held,
            "outcome": self.outcome,
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "failed_by_reason": dict(sorted(self.failed_by_reason.items())),
        }


def _failure(status: str, reason: str | None) -> str:
    if status == MessageStatus.BOUNCED.value:
        return "bounced"
    if reason and reason.startswith("render_error"):
        return "render_error"
    if reason == "channel_not_configured":
        return reason
    return "retries_exhausted" if status == MessageStatus.DEAD.value else "refused"


def tally(rows: Iterable[Any]) -> MessageCounts:
    """Rows of (status, status_reason, count) as :class:`MessageCounts`."""
    counts = MessageCounts()
    for status, reason, n in rows:
        counts.add(str(status), reason, int(n))
    return counts


def reason_column() -> ColumnElement[Any]:
    """The status reason to group by (render errors carry their text: cut to its start)."""
    # Literals, not parameters: PostgreSQL must see the same expression in SELECT and GROUP BY.
    return func.substr(
        func.coalesce(Message.status_reason, literal_column("''")),
        literal_column("1"),
        literal_column("40"),
    )


def message_counts(
    session: Session,
    merchant_id: int,
    *,
    member_id: int | None = None,
    channel: str | None = None,
) -> MessageCounts:
    """Every message of the merchant (optionally one member's, one channel's) by outcome."""
    query = select(Message.status, reason_column(), func.count()).where(
        Message.merchant_id == merchant_id
    )
    if member_id is not None:
        query = query.where(Message.member_id == member_id)
    if channel is not None:
        query = query.where(Message.channel == channel)
    return tally(session.execute(query.group_by(Message.status, reason_column())))
