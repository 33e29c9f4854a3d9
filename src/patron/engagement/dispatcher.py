"""The dispatcher worker task: claim due messages, guard and render them, send, record.

One round:
1. reconcile: sends lost with a dead worker become ``unknown``; old unknowns are resolved;
2. claim (one short transaction): lease up to ``batch_size`` due messages with
   :func:`patron.core.claim.claim_due`, apply the guards and render; the survivors stay
   ``queued`` under the lease;
3. for each survivor: mark it ``sending`` (attempt + 1), send outside any transaction, record
   the outcome (the next mark shares that commit).

Why this never sends twice and never loses one: see ADR 0402 and docs/engagement-channels.md.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.claim import claim_due
from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.request_id import acting_for
from patron.engagement.channels.base import ChannelMisconfigured, SendResult
from patron.engagement.config import MessageSettings, get_message_settings
from patron.engagement.models import Message, MessageStatus
from patron.engagement.outcomes import mark_sending, reconcile, record_outcome, release_unsent
from patron.engagement.preparation import Prepared, prepare

log = logging.getLogger("patron.engagement.dispatcher")


def claim_and_prepare(
    sessions: sessionmaker[Session], settings: Settings, cfg: MessageSettings
) -> tuple[int, list[Prepared]]:
    """Lease a batch, run the guards and render; returns (claimed, ready to send)."""
    with transaction(sessions) as session:
        now = utcnow(session)
        ids = claim_due(
            session,
            Message,
            (Message.status == MessageStatus.QUEUED.value) & (Message.not_before <= now),
            limit=cfg.batch_size,
            lease=timedelta(seconds=cfg.lease_seconds),
        )
        if not ids:
            return 0, []
        messages = list(
            session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id))
        )
        return len(ids), prepare(session, messages, settings)


def send_one(prepared: Prepared) -> SendResult:
    """Hand one message to its channel; our own surprises become ``unknown`` or dead ends."""
    try:
        return prepared.channel.send(prepared.outgoing, prepared.rendered, prepared.creds)
    except ChannelMisconfigured as exc:
        return SendResult("failed", retryable=True, error=f"settings: {exc}")
    except Exception as exc:
        # We cannot tell how far the channel got: treat as maybe-sent, never as failed.
        log.exception("channel raised", extra={"channel": prepared.channel.name})
        return SendResult("unknown", error=f"{type(exc).__name__}: {exc}"[:300])


def dispatch_messages(
    sessions: sessionmaker[Session], settings: Settings, cfg: MessageSettings | None = None
) -> int:
    """One round of the dispatcher (a worker task); returns how many messages it handled."""
    cfg = cfg or get_message_settings()
    with transaction(sessions) as session:
        handled = reconcile(session, cfg)
    claimed, ready = claim_and_prepare(sessions, settings, cfg)
    send_batch(sessions, ready, cfg)
    return handled + claimed


def send_batch(
    sessions: sessionmaker[Session], ready: list[Prepared], cfg: MessageSettings
) -> None:
    """Send prepared messages one by one, each marked ``sending`` just before its own send.

    The mark of the next message rides in the transaction that records the previous outcome,
    so this costs no extra commit per message, and a worker killed mid-batch leaves at most the
    one message in flight ``sending``; the rest stay ``queued`` and are claimed again when the
    lease runs out (ADR 0401).
    """
    # Stop starting sends at half the lease: a send in flight must never outlive the lease,
    # or the reconciler could call it lost while it is still on the wire.
    deadline = time.monotonic() + cfg.lease_seconds / 2
    marked = False
    for index, prepared in enumerate(ready):
        if not marked:
            if time.monotonic() > deadline:
                with transaction(sessions) as session:
                    release_unsent(session, [p.message_id for p in ready[index:]])
                return
            with transaction(sessions) as session:
                marked = mark_sending(session, prepared)
            if not marked:
                continue
        with acting_for(prepared.request_id):
            result = send_one(prepared)
            log.info(
                "message handed to its channel",
                extra={
                    "message_id": prepared.message_id,
                    "channel": prepared.channel.name,
                    "attempt": prepared.attempt,
                    "outcome": result.status,
                },
            )
        following = ready[index + 1] if index + 1 < len(ready) else None
        with transaction(sessions) as session:
            record_outcome(session, prepared, result, cfg)
            marked = (
                following is not None
                and time.monotonic() <= deadline
                and mark_sending(session, following)
            )
