"""The one interface every message channel implements, and the shapes it exchanges.

A channel is a plugin: it knows one provider's request shape and its status callbacks, and
nothing of the outbox, guards or the database. The dispatcher hands it a snapshot of the
message (:class:`Outgoing`), the rendered content and the merchant's credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from sqlalchemy.orm import Session

SendStatus = Literal["sent", "unknown", "failed"]


@dataclass(frozen=True)
class Outgoing:
    """What a channel needs to know about one message (no ORM objects cross this line)."""

    message_id: int
    merchant_id: int
    member_id: int
    # The provider's idempotency key where one exists: stable across retries of one generation.
    idempotency_key: str
    # The member's address on this channel: an email, an E.164 phone, a WeChat openid…
    address: str
    # Where the provider should POST status callbacks for this message (carries our reference).
    callback_url: str
    # The signed unsubscribe URL: GET shows a landing page, POST is RFC 8058 one-click.
    unsubscribe_url: str
    # The dispatcher's clock reading when the send started (the email Date header).
    created_at: datetime
    merchant_name: str = ""


@dataclass(frozen=True)
class Credentials:
    """A merchant's settings for one channel. ``repr`` never shows the secrets."""

    base_url: str | None
    values: dict[str, Any] = field(repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def need(self, key: str) -> Any:
        value = self.values.get(key)
        if value in (None, ""):
            raise ChannelMisconfigured(f"channel setting '{key}' is missing")
        return value


@dataclass(frozen=True)
class SendResult:
    """The provider's answer. ``unknown`` = we cannot tell whether it went (timeout, cut
    connection after the request was written): never counted as failed, never blindly resent."""

    status: SendStatus
    provider_message_id: str | None = None
    retryable: bool = False
    error: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """One status report parsed from a provider callback."""

    status: str  # delivered | read | failed | bounced | sent | stop | start
    provider_message_id: str | None = None
    # Our own message id when the provider echoes a reference we sent (callback URL, opaque data).
    message_id: int | None = None
    # For inbound opt-out (SMS STOP): the sender's address.
    address: str | None = None
    error: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class CallbackRequest:
    """A provider callback as received: enough to verify its signature and parse it."""

    url: str
    method: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)


class ChannelMisconfigured(Exception):
    """The merchant's settings for a channel are incomplete (a permanent failure)."""


class CallbackRejected(Exception):
    """A callback whose signature or secret does not verify."""


@runtime_checkable
class Channel(Protocol):
    """One delivery channel. Implementations are registered under the ``patron.channels``
    entry point group (see :mod:`patron.engagement.channels`)."""

    name: str

    def resend_unknown_is_safe(self, creds: Credentials) -> bool:
        """True when re-sending after an ``unknown`` outcome cannot put a second copy in front
        of the member (a provider idempotency key, a local insert, a stable Message-ID that
        receivers collapse; see ADR 0402). False: wait for a status callback instead."""
        ...

    def address_of(self, member: Any, identities: dict[str, str]) -> str | None:
        """The member's address on this channel, or None when there is none."""
        ...

    def send(self, message: Outgoing, rendered: dict[str, Any], creds: Credentials) -> SendResult:
        """Hand one message to the provider."""
        ...

    def parse_callback(self, request: CallbackRequest, creds: Credentials) -> list[StatusUpdate]:
        """Verify (raise :class:`CallbackRejected`) and parse a provider callback."""
        ...

    def record(self, session: Session, message: Outgoing, rendered: dict[str, Any]) -> None:
        """Write local rows in the same transaction that marks the message sent (inbox)."""
        ...
