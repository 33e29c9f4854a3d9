"""How many of an audience a message would reach now, per channel, and why the rest would not.

The answer comes from the dispatcher's own checks (:func:`preparation.blocked_by` and
:func:`preparation.unreachable`, on a :class:`preparation.Batch` loaded for the audience), so
the preview and the sending never disagree about a rule (ADR 0422). Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from patron.engagement.policy import CAPPED_KINDS
from patron.engagement.preparation import Batch, blocked_by, unreachable

# Why a member would not be reached, in the order the dispatcher checks.
REASONS = ("consent", "frequency_cap", "channel_not_configured", "no_address")
CHUNK = 1000  # members per load (keeps every IN list far below SQLite's parameter limit)


@dataclass
class ChannelReach:
    """One channel's answer: ``reached`` go now, ``held`` go when quiet hours end, and
    ``not_reached`` by reason."""

    channel: str
    audience: int = 0
    reached: int = 0
    held: int = 0
    not_reached: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "audience": self.audience,
            "reached": self.reached,
            "held_for_quiet_hours": self.held,
            "not_reached": dict(self.not_reached),
        }


def reach(
    session: Session,
    merchant_id: int,
    member_ids: Iterable[int],
    channels: Sequence[str],
    topic: str,
    kind: str,
) -> list[ChannelReach]:
    """For each channel, what the guards would say now about a message on ``topic`` of
    ``kind`` to each of ``member_ids`` (members gone or merged are left out)."""
    ids = sorted(set(member_ids))
    answers = {channel: ChannelReach(channel) for channel in channels}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        capped = [(merchant_id, m, kind) for m in chunk] if kind in CAPPED_KINDS else []
        batch = Batch(session, {merchant_id}, set(chunk), set(channels), capped, lock=False)
        merchant = batch.merchants[merchant_id]
        for member_id in chunk:
            member = batch.members.get(member_id)
            if member is None or member.merchant_id != merchant_id or member.merged_into_id:
                continue
            for channel in channels:
                answer = answers[channel]
                answer.audience += 1
                blocked = blocked_by(batch, member, merchant, channel, topic, kind)
                if blocked is not None and blocked.until is None:
                    answer.not_reached[blocked.reason] += 1
                    continue
                # Held members meet the remaining checks when quiet hours end: say those now.
                missing = unreachable(batch, member, merchant_id, channel)
                if missing is not None:
                    answer.not_reached[missing] += 1
                elif blocked is not None:
                    answer.held += 1
                else:
                    answer.reached += 1
    return [answers[channel] for channel in channels]
