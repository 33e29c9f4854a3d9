"""How many of an audience a message would reach now, per channel, and why the rest would not.

The answer comes from the dispatcher's own checks (:func:`preparation.blocked_by` and
:func:`preparation.unreachable`, on a :class:`preparation.Batch` loaded for the audience), so
the preview and the sending never disagree about a rule (ADR 0422). Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from patron.engagement.channels import channel_names
from patron.engagement.policy import CAPPED_KINDS
from patron.engagement.preparation import Batch, blocked_by, unreachable
from patron.members.topics import GENERAL

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
    answers = {channel: ChannelReach(channel) for channel in channels}
    for _member_id, channel, outcome in _outcomes(
        session, merchant_id, member_ids, channels, topic, kind, caps=True
    ):
        answer = answers[channel]
        answer.audience += 1
        if outcome == "reached":
            answer.reached += 1
        elif outcome == "held":
            answer.held += 1
        else:
            answer.not_reached[outcome] += 1
    return [answers[channel] for channel in channels]


# Channels that carry a message to a person away from the portal (the portal's own inbox is
# read only by members who come to the portal).
INBOX = "in_app"


def reachable_members(session: Session, merchant_id: int, member_ids: Iterable[int]) -> set[int]:
    """Members a marketing message on the general topic could reach on at least one channel
    that has an address outside the portal (SMS, e-mail, WeChat, WhatsApp…), by the
    dispatcher's own checks: consent that counts for marketing, the channel switched on, an
    address. Frequency caps and quiet hours are left out: they only delay a message."""
    channels = [c for c in channel_names() if c != INBOX]
    found: set[int] = set()
    for member_id, _channel, outcome in _outcomes(
        session, merchant_id, member_ids, channels, GENERAL, "marketing", caps=False
    ):
        if outcome in ("reached", "held"):
            found.add(member_id)
    return found


def _outcomes(
    session: Session,
    merchant_id: int,
    member_ids: Iterable[int],
    channels: Sequence[str],
    topic: str,
    kind: str,
    *,
    caps: bool,
) -> Iterator[tuple[int, str, str]]:
    """(member, channel, outcome) for each member and channel: "reached", "held" (quiet
    hours) or the reason it would not go. ``caps``: count the frequency cap."""
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        capped = [(merchant_id, m, kind) for m in chunk] if caps and kind in CAPPED_KINDS else []
        batch = Batch(session, {merchant_id}, set(chunk), set(channels), capped, lock=False)
        merchant = batch.merchants[merchant_id]
        for member_id in chunk:
            member = batch.members.get(member_id)
            if member is None or member.merchant_id != merchant_id or member.merged_into_id:
                continue
            for channel in channels:
                blocked = blocked_by(batch, member, merchant, channel, topic, kind)
                if blocked is not None and blocked.until is None:
                    yield member_id, channel, blocked.reason
                    continue
                # Held members meet the remaining checks when quiet hours end: say those now.
                missing = unreachable(batch, member, merchant_id, channel)
                if missing is not None:
                    yield member_id, channel, missing
                else:
                    yield member_id, channel, "held" if blocked is not None else "reached"
