"""Recording what happened to a message: send outcomes, reconciliation of unknowns, and
status reports from provider callbacks."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import insert, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import is_postgres
from patron.engagement.channels import get_channel
from patron.engagement.channels.base import Credentials, SendResult, StatusUpdate
from patron.engagement.config import MessageSettings
from patron.engagement.consent import ALL_TOPICS, set_consent
from patron.engagement.messages import record_event
from patron.engagement.models import (
    TERMINAL,
    ChannelSetting,
    Message,
    MessageEvent,
    MessageStatus,
)
from patron.engagement.preparation import Prepared
from patron.members.models import IdentityKind, Member, MemberIdentity

log = logging.getLogger("patron.engagement")


def backoff(attempt: int, cfg: MessageSettings) -> timedelta:
    """30 s, 60 s, 2 min, 4 min… capped."""
    seconds = min(cfg.retry_base_seconds * (2 ** max(attempt - 1, 0)), cfg.retry_max_seconds)
    return timedelta(seconds=seconds)


def record_outcome(
    session: Session, prepared: Prepared, result: SendResult, cfg: MessageSettings
) -> None:
    """Store one send's outcome (in its own short transaction, right after the send)."""
    if result.status == "sent" and _record_sent(session, prepared, result):
        return
    message = session.get(Message, prepared.message_id, with_for_update=is_postgres(session))
    if message is None or message.attempts != prepared.attempt:
        return  # retried by hand meanwhile: this attempt's news is stale
    now = utcnow(session)
    if message.status not in (MessageStatus.SENDING, MessageStatus.UNKNOWN):
        # A status callback overtook us (delivered before we recorded "sent"): keep its status.
        if result.status == "sent":
            message.provider_message_id = message.provider_message_id or result.provider_message_id
            message.sent_at = message.sent_at or now
        return
    message.locked_until, message.updated_at, message.last_error = None, now, result.error
    if result.status == "sent":
        message.status, message.status_reason = MessageStatus.SENT.value, None
        message.provider_message_id, message.sent_at = result.provider_message_id, now
        prepared.channel.record(session, prepared.outgoing, prepared.rendered)
        record_event(session, message, "sent", {"provider_message_id": result.provider_message_id})
    elif result.status == "unknown":
        message.status, message.status_reason = MessageStatus.UNKNOWN.value, "no answer"
        record_event(session, message, "unknown", {"error": result.error})
    elif result.retryable and message.attempts < cfg.max_attempts:
        message.status, message.status_reason = MessageStatus.QUEUED.value, "retry"
        message.not_before = now + backoff(message.attempts, cfg)
        record_event(session, message, "retry_scheduled", {"error": result.error})
    else:
        final = MessageStatus.DEAD if result.retryable else MessageStatus.FAILED
        message.status, message.status_reason = final.value, (result.error or "")[:300]
        record_event(session, message, final.value, {"error": result.error})


def _record_sent(session: Session, prepared: Prepared, result: SendResult) -> bool:
    """The common case, "sent", as one conditional UPDATE and one INSERT (no ORM load/flush:
    this runs once per message). False if the row moved on meanwhile (a manual retry, an
    overtaking status callback): the caller then takes the careful path."""
    now = utcnow(session)
    done = session.execute(
        sql_update(Message)
        .where(
            Message.id == prepared.message_id,
            Message.attempts == prepared.attempt,
            Message.status.in_((MessageStatus.SENDING.value, MessageStatus.UNKNOWN.value)),
        )
        .values(
            status=MessageStatus.SENT.value,
            status_reason=None,
            provider_message_id=result.provider_message_id,
            sent_at=now,
            locked_until=None,
            updated_at=now,
            last_error=result.error,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        return False
    session.execute(
        insert(MessageEvent).values(
            merchant_id=prepared.outgoing.merchant_id,
            message_id=prepared.message_id,
            type="sent",
            detail={"provider_message_id": result.provider_message_id},
            occurred_at=now,
        )
    )
    prepared.channel.record(session, prepared.outgoing, prepared.rendered)
    return True


def mark_sending(session: Session, prepared: Prepared) -> bool:
    """Mark one prepared message ``sending`` (attempt + 1) right before its own send.

    Conditional on it still being ``queued`` under our lease at the attempt we prepared: False
    means something else settled it meanwhile (a late status callback) and it must not go.
    """
    now = utcnow(session)
    done = session.execute(
        sql_update(Message)
        .where(
            Message.id == prepared.message_id,
            Message.status == MessageStatus.QUEUED.value,
            Message.attempts == prepared.attempt - 1,
            Message.locked_until > now,
        )
        .values(
            status=MessageStatus.SENDING.value,
            attempts=prepared.attempt,
            dispatched_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0) == 1)


def release_unsent(session: Session, message_ids: list[int]) -> None:
    """Give back the leases of prepared messages this worker will not start (its lease runs
    short): they are still ``queued`` and any worker may claim them at once."""
    now = utcnow(session)
    session.execute(
        sql_update(Message)
        .where(Message.id.in_(message_ids), Message.status == MessageStatus.QUEUED.value)
        .values(locked_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def reconcile(session: Session, cfg: MessageSettings, limit: int = 500) -> int:
    """Lost sends become ``unknown``; unknowns are resent where that is safe, else expire.

    A ``sending`` row whose lease ran out belongs to a worker that died mid-send. After the
    grace period (status callbacks may still tell us), an unknown on a channel where a resend
    cannot duplicate (idempotency key, stable Message-ID, local insert) is queued again with
    the same key; elsewhere it waits for a callback and becomes dead after the expiry.
    """
    now = utcnow(session)
    grace = now - timedelta(seconds=cfg.unknown_grace_seconds)
    query = (
        select(Message)
        .where(
            or_(
                (Message.status == MessageStatus.SENDING.value) & (Message.locked_until <= now),
                (Message.status == MessageStatus.UNKNOWN.value) & (Message.updated_at <= grace),
            )
        )
        .order_by(Message.id)
        .limit(limit)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    messages = list(session.scalars(query))
    settings = _settings_for(session, messages)
    for message in messages:
        if message.status == MessageStatus.SENDING:
            message.status, message.status_reason = MessageStatus.UNKNOWN.value, "worker lost"
            message.locked_until, message.updated_at = None, now
            record_event(session, message, "unknown", {"reason": "lease expired during send"})
            continue
        _resolve_unknown(
            session, message, settings.get((message.merchant_id, message.channel)), cfg
        )
    return len(messages)


def _settings_for(session: Session, messages: list[Message]) -> dict[tuple[int, str], Credentials]:
    merchant_ids = {m.merchant_id for m in messages}
    if not merchant_ids:
        return {}
    rows = session.scalars(
        select(ChannelSetting).where(ChannelSetting.merchant_id.in_(merchant_ids))
    )
    return {(r.merchant_id, r.channel): Credentials(r.base_url, dict(r.credentials)) for r in rows}


def _resolve_unknown(
    session: Session, message: Message, creds: Credentials | None, cfg: MessageSettings
) -> None:
    now = utcnow(session)
    channel = get_channel(message.channel)
    if channel.resend_unknown_is_safe(creds or Credentials(None, {})):
        if message.attempts >= cfg.max_attempts:
            message.status, message.status_reason = (
                MessageStatus.DEAD.value,
                "unknown, attempts used",
            )
            record_event(session, message, "dead", {"reason": "unknown after max attempts"})
        else:
            message.status, message.status_reason = (
                MessageStatus.QUEUED.value,
                "resend after unknown",
            )
            message.not_before = now
            record_event(session, message, "resend_unknown", {})
        message.updated_at = now
        return
    expired = message.updated_at <= now - timedelta(seconds=cfg.unknown_expiry_seconds)
    if expired:
        message.status, message.status_reason = MessageStatus.DEAD.value, "unknown, no callback"
        message.updated_at = now
        record_event(session, message, "dead", {"reason": "no status callback"})


STATUS_FROM_UPDATE = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    "bounced": MessageStatus.BOUNCED,
}
# A later report never moves a message back (a "sent" arriving after "delivered"). A late
# report does correct a queued resend or an expired unknown: the provider knows best.
RANK = {
    "queued": 0,
    "sending": 0,
    "unknown": 1,
    "dead": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "failed": 5,
    "bounced": 5,
}


def apply_updates(
    session: Session, merchant_id: int, channel: str, updates: list[StatusUpdate]
) -> int:
    """Apply parsed provider callbacks; returns how many changed something."""
    changed = 0
    for update in updates:
        if update.status in ("stop", "start"):
            changed += _opt_out(session, merchant_id, channel, update)
            continue
        message = _find(session, merchant_id, channel, update)
        if message is None:
            log.info("status for an unknown message", extra={"channel": channel})
            continue
        target = STATUS_FROM_UPDATE[update.status]
        if message.status not in RANK or RANK[target.value] <= RANK[message.status]:
            continue
        now = utcnow(session)
        message.status, message.updated_at = target.value, now
        message.provider_message_id = message.provider_message_id or update.provider_message_id
        if target in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ):
            message.sent_at = message.sent_at or now
            message.locked_until = None
        if target in (MessageStatus.DELIVERED, MessageStatus.READ):
            message.delivered_at = message.delivered_at or now
        if target in (MessageStatus.FAILED, MessageStatus.BOUNCED):
            message.status_reason = (update.error or target.value)[:300]
        record_event(
            session, message, target.value, {"error": update.error} if update.error else {}
        )
        changed += 1
    session.flush()
    return changed


def _find(session: Session, merchant_id: int, channel: str, update: StatusUpdate) -> Message | None:
    if update.message_id is not None:
        message = session.get(Message, update.message_id)
        if (
            message is not None
            and message.merchant_id == merchant_id
            and message.channel == channel
        ):
            return message
    if update.provider_message_id:
        return session.scalar(
            select(Message).where(
                Message.channel == channel,
                Message.provider_message_id == update.provider_message_id,
                Message.merchant_id == merchant_id,
            )
        )
    return None


def _opt_out(session: Session, merchant_id: int, channel: str, update: StatusUpdate) -> int:
    """SMS STOP (or a WeChat unfollow): revoke every topic on that channel at once.

    SMS START lifts that block (topic ``*`` granted again): the member's earlier per-topic
    choices apply again. It grants no marketing topic that was never granted (ADR 0403)."""
    if not update.address:
        return 0
    if channel == "wechat":
        member_ids = list(
            session.scalars(
                select(MemberIdentity.member_id).where(
                    MemberIdentity.merchant_id == merchant_id,
                    MemberIdentity.kind == IdentityKind.EXTERNAL.value,
                    MemberIdentity.namespace == "wechat",
                    MemberIdentity.value == update.address,
                )
            )
        )
    else:
        member_ids = list(
            session.scalars(
                select(Member.id).where(
                    Member.merchant_id == merchant_id, Member.phone == update.address
                )
            )
        )
    granted = update.status == "start"
    word = "START" if granted else "STOP"
    source = f"{channel}:{word}" if channel != "wechat" else "wechat:unsubscribe"
    return sum(
        set_consent(session, merchant_id, mid, channel, ALL_TOPICS, granted, source)
        for mid in member_ids
    )


__all__ = [
    "TERMINAL",
    "apply_updates",
    "mark_sending",
    "reconcile",
    "record_outcome",
    "release_unsent",
]
