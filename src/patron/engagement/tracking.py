"""Opens, clicks and unsubscribes coming back from members."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import NotFound
from patron.engagement import tokens
from patron.engagement.consent import set_consent
from patron.engagement.messages import record_event
from patron.engagement.models import Message
from patron.members.attention import record_activity
from patron.members.models import Member


def record_open(session: Session, secret_key: str, token: str) -> None:
    """The pixel was fetched: note the first open time and an event for each."""
    message = session.get(Message, int(tokens.unsign(secret_key, tokens.OPEN, token)))
    if message is None:
        return
    message.opened_at = message.opened_at or utcnow(session)
    record_event(session, message, "opened")
    session.flush()
    count_attention(session, message, "message_open")


def record_click(session: Session, secret_key: str, token: str) -> str:
    """A tracked link was followed: record it and return where to go."""
    message_id, target = tokens.unsign(secret_key, tokens.CLICK, token)
    if urlsplit(str(target)).scheme not in ("http", "https"):
        raise NotFound("this link is not valid", code="bad_token")
    message = session.get(Message, int(message_id))
    if message is not None:
        now = utcnow(session)
        message.clicked_at = message.clicked_at or now
        message.opened_at = message.opened_at or now  # a click proves the open
        record_event(session, message, "clicked", {"url": target})
        session.flush()
        count_attention(session, message, "message_open")
        count_attention(session, message, "message_click")
    return str(target)


def count_attention(session: Session, message: Message, kind: str) -> None:
    """Count the open or click towards the member's engagement score (once per message)."""
    record_activity(session, message.merchant_id, message.member_id, kind, f"{kind}:{message.id}")


def read_unsubscribe(secret_key: str, token: str) -> dict[str, Any]:
    merchant_id, member_id, channel, topic = tokens.unsign(secret_key, tokens.UNSUBSCRIBE, token)
    return {"merchant_id": merchant_id, "member_id": member_id, "channel": channel, "topic": topic}


def unsubscribe(session: Session, secret_key: str, token: str) -> dict[str, Any]:
    """Revoke consent for the link's channel and topic, effective for the next guard check."""
    target = read_unsubscribe(secret_key, token)
    member = session.get(Member, target["member_id"])
    if member is None or member.merchant_id != target["merchant_id"]:
        raise NotFound("this link is no longer valid", code="bad_token")
    set_consent(
        session,
        member.merchant_id,
        member.id,
        target["channel"],
        target["topic"],
        False,
        f"{target['channel']}:unsubscribe_link",
    )
    return target
