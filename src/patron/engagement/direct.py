"""Messages that go at once, outside the outbox: the portal's one-time sign-in codes (ADR 1300).

A code is for someone looking at the sign-in page now, so the outbox's guards do not fit it:
quiet hours would hold it until morning, the person may not be a member yet (the outbox keeps
messages per member), and the outbox keeps what it rendered, which would put the code there in
plain text. So the code goes through the same channel plugins and the merchant's own channel
settings, straight away, after the request's commit (like the password-reset mail); a lost
code is simply asked for again. Nothing of it is stored but the code's keyed hash.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.engagement.channels import get_channel
from patron.engagement.channels.base import Channel, Credentials, Outgoing, SendResult
from patron.engagement.models import ChannelSetting
from patron.tenancy.models import Merchant

log = logging.getLogger("patron.engagement.direct")


@dataclass(frozen=True)
class DirectMessage:
    """One message ready to hand to its channel (no ORM objects: it is sent after commit)."""

    channel: Channel
    outgoing: Outgoing
    rendered: dict[str, Any]
    creds: Credentials


def channel_ready(session: Session, merchant_id: int, channel: str) -> bool:
    """Whether the merchant set up and enabled ``channel``."""
    enabled = session.scalar(
        select(ChannelSetting.enabled).where(
            ChannelSetting.merchant_id == merchant_id, ChannelSetting.channel == channel
        )
    )
    return bool(enabled)


def prepare_direct(
    session: Session,
    merchant_id: int,
    channel: str,
    address: str,
    rendered: dict[str, Any],
    reference: str,
) -> DirectMessage | None:
    """The message for ``address`` on the merchant's ``channel``, or None when that channel is
    not set up. ``reference`` becomes the provider's idempotency key (and the email's
    Message-ID), so it must be unique per message."""
    setting = session.scalar(
        select(ChannelSetting).where(
            ChannelSetting.merchant_id == merchant_id, ChannelSetting.channel == channel
        )
    )
    merchant = session.get(Merchant, merchant_id)
    if setting is None or not setting.enabled or merchant is None:
        return None
    outgoing = Outgoing(
        message_id=0,
        merchant_id=merchant_id,
        member_id=0,
        idempotency_key=f"patron-{merchant_id}-direct-{reference}",
        address=address,
        callback_url="",
        unsubscribe_url="",
        created_at=utcnow(session),
        merchant_name=merchant.name,
    )
    creds = Credentials(setting.base_url, dict(setting.credentials))
    return DirectMessage(get_channel(channel), outgoing, rendered, creds)


def send_direct(message: DirectMessage) -> SendResult:
    """Hand the message to its channel; a failure is logged (the person asks again)."""
    try:
        result = message.channel.send(message.outgoing, message.rendered, message.creds)
    except Exception as exc:
        log.exception("direct message raised", extra={"channel": message.channel.name})
        return SendResult("unknown", error=f"{type(exc).__name__}: {exc}"[:300])
    if result.status != "sent":
        log.warning(
            "direct message not sent",
            extra={"channel": message.channel.name, "error": result.error},
        )
    return result
