"""The outbox: writing messages (in the caller's transaction), reading them, retrying them.

Everything that sends a message (campaigns, journeys, order receipts) calls
:func:`enqueue_message` inside the transaction of its cause. The dispatcher does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import BusinessRuleViolation, InvalidInput, NotFound
from patron.engagement.channels import get_channel
from patron.engagement.models import (
    Message,
    MessageEvent,
    MessageKind,
    MessageStatus,
    MessageTemplate,
)
from patron.engagement.templates import validate_variants
from patron.members.models import Member

KINDS = frozenset(k.value for k in MessageKind)


def _check(
    session: Session,
    merchant_id: int,
    channel: str,
    template_id: int | None,
    content: dict[str, Any] | None,
    kind: str,
    dedupe_key: str,
) -> None:
    get_channel(channel)
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {sorted(KINDS)}", code="invalid_kind")
    if not dedupe_key or len(dedupe_key) > 200:
        raise InvalidInput("dedupe_key: 1 to 200 characters", code="invalid_dedupe_key")
    if (template_id is None) == (content is None):
        raise InvalidInput("give a template_id or a content, not both", code="invalid_content")
    if content is not None:
        validate_variants(channel, content)
        return
    template = session.get(MessageTemplate, template_id)
    if template is None or template.merchant_id != merchant_id:
        raise NotFound("template not found", code="template_not_found")
    if template.channel != channel:
        raise InvalidInput(
            f"template is for {template.channel}, not {channel}", code="channel_mismatch"
        )


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = maker(Message).on_conflict_do_nothing(index_elements=["merchant_id", "dedupe_key"])
    session.execute(stmt, rows)


def enqueue_message(
    session: Session,
    merchant_id: int,
    member_id: int,
    channel: str,
    *,
    topic: str,
    kind: str,
    dedupe_key: str,
    template_id: int | None = None,
    content: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> Message:
    """Put one message in the outbox, in the caller's transaction.

    ``dedupe_key`` is unique per merchant: enqueuing it again returns the first message and
    changes nothing (so a retried cause never sends twice). ``content`` is an inline set of
    locale variants (checked like a template); ``context`` fills tier, balance, coupon,
    product and links; ``not_before`` schedules it.
    """
    _check(session, merchant_id, channel, template_id, content, kind, dedupe_key)
    member = session.get(Member, member_id)
    if member is None or member.merchant_id != merchant_id:
        raise NotFound("member not found", code="member_not_found")
    now = utcnow(session)
    row = _row(
        merchant_id,
        member_id,
        channel,
        template_id,
        content,
        topic,
        kind,
        dedupe_key,
        context,
        not_before or now,
        now,
    )
    _insert_ignoring_duplicates(session, [row])
    message = session.scalar(
        select(Message).where(Message.merchant_id == merchant_id, Message.dedupe_key == dedupe_key)
    )
    assert message is not None  # inserted above, or there before
    return message


def _row(
    merchant_id: int,
    member_id: int,
    channel: str,
    template_id: int | None,
    content: dict[str, Any] | None,
    topic: str,
    kind: str,
    dedupe_key: str,
    context: dict[str, Any] | None,
    not_before: datetime,
    now: datetime,
) -> dict[str, Any]:
    return {
        "merchant_id": merchant_id,
        "member_id": member_id,
        "channel": channel,
        "template_id": template_id,
        "content": content,
        "topic": topic,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "context": context or {},
        "status": MessageStatus.QUEUED.value,
        "not_before": not_before,
        "attempts": 0,
        "generation": 0,
        "created_at": now,
        "updated_at": now,
    }


def enqueue_messages(
    session: Session,
    merchant_id: int,
    channel: str,
    recipients: Sequence[tuple[int, str, dict[str, Any]]],
    *,
    topic: str,
    kind: str,
    template_id: int,
    not_before: datetime | None = None,
) -> int:
    """Enqueue one template to many members at once (campaigns): ``recipients`` are
    (member_id, dedupe_key, context). Members must belong to the merchant (the caller selected
    them from its segment). Duplicated keys are ignored. Returns how many were given."""
    _check(session, merchant_id, channel, template_id, None, kind, "bulk")
    now = utcnow(session)
    when = not_before or now
    rows = [
        _row(merchant_id, member_id, channel, template_id, None, topic, kind, key, ctx, when, now)
        for member_id, key, ctx in recipients
    ]
    for start in range(0, len(rows), 1000):
        _insert_ignoring_duplicates(session, rows[start : start + 1000])
    return len(rows)


def record_event(
    session: Session, message: Message, type_: str, detail: dict[str, Any] | None = None
) -> None:
    session.add(
        MessageEvent(
            merchant_id=message.merchant_id,
            message_id=message.id,
            type=type_,
            detail=detail or {},
            occurred_at=utcnow(session),
        )
    )


def get_message(session: Session, merchant_id: int, message_id: int) -> Message:
    """One message of this merchant (404 otherwise)."""
    message = session.get(Message, message_id)
    if message is None or message.merchant_id != merchant_id:
        raise NotFound("message not found", code="message_not_found")
    return message


def message_events(session: Session, message: Message) -> list[MessageEvent]:
    return list(
        session.scalars(
            select(MessageEvent)
            .where(MessageEvent.message_id == message.id)
            .order_by(MessageEvent.id)
        )
    )


def list_messages(
    session: Session,
    merchant_id: int,
    *,
    member_id: int | None = None,
    status: str | None = None,
    channel: str | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> list[Message]:
    """Newest first; ``status="dead"`` is the dead-letter list. Fetches ``limit + 1``."""
    query = select(Message).where(Message.merchant_id == merchant_id)
    if member_id is not None:
        query = query.where(Message.member_id == member_id)
    if status is not None:
        query = query.where(Message.status == status)
    if channel is not None:
        query = query.where(Message.channel == channel)
    if cursor is not None:
        query = query.where(Message.id < cursor)
    return list(session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)))


def retry_message(session: Session, merchant_id: int, message_id: int) -> Message:
    """Send a dead (or an unresolved unknown) message again, through every guard.

    The generation goes up, so providers see a new idempotency key and a new Message-ID.
    """
    message = get_message(session, merchant_id, message_id)
    if message.status not in (MessageStatus.DEAD, MessageStatus.UNKNOWN):
        raise BusinessRuleViolation(
            f"only dead or unknown messages can be retried (this one is {message.status})",
            code="message_not_retryable",
        )
    now = utcnow(session)
    record_event(session, message, "retry", {"previous_status": message.status})
    message.status = MessageStatus.QUEUED.value
    message.status_reason = "manual retry"
    message.attempts = 0
    message.generation += 1
    message.not_before = now
    message.locked_until = None
    message.updated_at = now
    session.flush()
    return message


# Registers this domain's member-merge hook (ADR 0370).
from patron.engagement import merge as _merge_hook  # noqa: E402, F401
