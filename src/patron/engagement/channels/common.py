"""Helpers shared by the HTTP channels: turning transport errors into send outcomes."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
from sqlalchemy.orm import Session

from patron.engagement.channels.base import Credentials, Outgoing, SendResult

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def timeout_of(creds: Credentials) -> httpx.Timeout:
    """The provider timeout: ``timeout_seconds`` in the channel settings, else 10 s."""
    seconds = creds.get("timeout_seconds")
    return httpx.Timeout(float(seconds)) if seconds else HTTP_TIMEOUT


class ChannelDefaults:
    """No-op parts of the interface that most channels do not need."""

    def record(self, session: Session, message: Outgoing, rendered: dict[str, Any]) -> None:
        return None


def post(client_call: Any) -> httpx.Response | SendResult:
    """Run an httpx call; map transport errors to outcomes.

    A failure to connect means nothing was sent: retry. A timeout or a dropped connection after
    the request was written means the provider may have it: ``unknown``.
    """
    try:
        response: httpx.Response = client_call()
        return response
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return SendResult("failed", retryable=True, error=f"connect: {exc}")
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError) as exc:
        return SendResult("unknown", error=f"no answer: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return SendResult("unknown", error=f"transport: {type(exc).__name__}: {exc}")


def by_status(response: httpx.Response, error: str) -> SendResult:
    """A refused request: 429 and 5xx are worth retrying, other 4xx are not."""
    retryable = response.status_code == 429 or response.status_code >= 500
    return SendResult("failed", retryable=retryable, error=f"{response.status_code}: {error}")


def hmac_hex(key: str, body: bytes, algo: str = "sha256") -> str:
    return hmac.new(key.encode(), body, getattr(hashlib, algo)).hexdigest()


def message_ref(value: str | None) -> int | None:
    """Our message id from a reference we gave the provider (``patron:123`` or ``123``)."""
    if not value:
        return None
    raw = value.removeprefix("patron:")
    return int(raw) if raw.isdigit() else None
