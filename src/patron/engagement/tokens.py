"""Signed tokens in tracking and unsubscribe links (itsdangerous, keyed by the secret key).

Unsubscribe links never expire (a member may click a year-old email); open and click tokens
carry only a message id and a target, so a forged or altered one is rejected outright.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from patron.core.errors import NotFound

OPEN, CLICK, UNSUBSCRIBE = "patron.open", "patron.click", "patron.unsubscribe"


def sign(secret_key: str, purpose: str, payload: Any) -> str:
    return URLSafeSerializer(secret_key, salt=purpose).dumps(payload)


def unsign(secret_key: str, purpose: str, token: str) -> Any:
    """The payload, or 404 ``bad_token`` (a forged link looks like a missing page)."""
    try:
        return URLSafeSerializer(secret_key, salt=purpose).loads(token)
    except BadSignature as exc:
        raise NotFound("this link is not valid", code="bad_token") from exc


def open_url(base_url: str, secret_key: str, message_id: int) -> str:
    return f"{base_url.rstrip('/')}/t/o/{sign(secret_key, OPEN, message_id)}"


def click_url(base_url: str, secret_key: str, message_id: int, target: str) -> str:
    return f"{base_url.rstrip('/')}/t/c/{sign(secret_key, CLICK, [message_id, target])}"


def unsubscribe_url(
    base_url: str, secret_key: str, merchant_id: int, member_id: int, channel: str, topic: str
) -> str:
    token = sign(secret_key, UNSUBSCRIBE, [merchant_id, member_id, channel, topic])
    return f"{base_url.rstrip('/')}/u/{token}"
