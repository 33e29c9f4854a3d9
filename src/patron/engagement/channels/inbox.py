"""The in-app inbox: the message becomes a row the member portal shows.

The row is written in the same transaction that marks the message sent, so it exists exactly
once whatever happens to the worker.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from patron.engagement.channels.base import (
    CallbackRejected,
    CallbackRequest,
    Credentials,
    Outgoing,
    SendResult,
    StatusUpdate,
)
from patron.engagement.models import InboxItem


class InboxChannel:
    name = "in_app"

    def resend_unknown_is_safe(self, creds: Credentials) -> bool:
        return True

    def address_of(self, member: Any, identities: dict[str, str]) -> str | None:
        return f"member:{member.id}"

    def send(self, message: Outgoing, rendered: dict[str, Any], creds: Credentials) -> SendResult:
        return SendResult("sent", provider_message_id=f"inbox:{message.message_id}")

    def record(self, session: Session, message: Outgoing, rendered: dict[str, Any]) -> None:
        session.add(
            InboxItem(
                merchant_id=message.merchant_id,
                member_id=message.member_id,
                message_id=message.message_id,
                title=str(rendered.get("title", ""))[:300],
                body=str(rendered.get("body", "")),
                link=rendered.get("link") or None,
                created_at=message.created_at,
            )
        )

    def parse_callback(self, request: CallbackRequest, creds: Credentials) -> list[StatusUpdate]:
        raise CallbackRejected("the inbox has no provider callbacks")
