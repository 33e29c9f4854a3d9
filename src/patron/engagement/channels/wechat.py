"""WeChat Official Account template messages.

Token: ``GET {base}/cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` →
``{"access_token", "expires_in"}``, cached until shortly before it expires (WeChat limits how
often it may be fetched). Send: ``POST {base}/cgi-bin/message/template/send?access_token=…``
with ``{touser: openid, template_id, url, data: {key: {value}}}``; ``errcode`` 0 is success.
Event push (XML): ``TEMPLATESENDJOBFINISH`` with ``Status`` ``success`` / ``failed:user block`` /
``failed: system failed``; requests are signed by ``signature`` = SHA1 of the sorted
(token, timestamp, nonce).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from typing import Any
from xml.etree import ElementTree

import httpx

from patron.engagement.channels.base import (
    CallbackRejected,
    CallbackRequest,
    ChannelMisconfigured,
    Credentials,
    Outgoing,
    SendResult,
    StatusUpdate,
)
from patron.engagement.channels.common import ChannelDefaults, by_status, post, timeout_of

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
TOKEN_INVALID = frozenset({40001, 40014, 42001})
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45047})
# Refresh a little before expiry so a token never dies between fetch and use.
TOKEN_MARGIN_SECONDS = 300


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


class _TokenCache:
    """Access tokens per (base URL, appid), shared by the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            hit = self._tokens.get(key)
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def put(self, key: tuple[str, str], token: str, expires_in: int) -> None:
        with self._lock:
            ttl = max(expires_in - TOKEN_MARGIN_SECONDS, 60)
            self._tokens[key] = (token, time.monotonic() + ttl)

    def drop(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


class WeChatChannel(ChannelDefaults):
    name = "wechat"

    def __init__(self) -> None:
        self.tokens = _TokenCache()

    def resend_unknown_is_safe(self, creds: Credentials) -> bool:
        return False  # no idempotency key and no reference echoed back

    def address_of(self, member: Any, identities: dict[str, str]) -> str | None:
        return identities.get("wechat")

    def _token(self, client: httpx.Client, base: str, creds: Credentials) -> str | SendResult:
        key = (base, str(creds.need("appid")))
        cached = self.tokens.get(key)
        if cached:
            return cached
        params = {
            "grant_type": "client_credential",
            "appid": key[1],
            "secret": str(creds.need("secret")),
        }
        answer = post(lambda: client.get(f"{base}/cgi-bin/token", params=params))
        if isinstance(answer, SendResult):
            # Fetching a token sends nothing to the member: any failure here is retryable.
            return SendResult("failed", retryable=True, error=answer.error)
        body = answer.json()
        if "access_token" not in body:
            raise ChannelMisconfigured(f"token: errcode {body.get('errcode')}")
        self.tokens.put(key, str(body["access_token"]), int(body.get("expires_in", 7200)))
        return str(body["access_token"])

    def send(self, message: Outgoing, rendered: dict[str, Any], creds: Credentials) -> SendResult:
        base = (creds.base_url or DEFAULT_BASE_URL).rstrip("/")
        payload = {
            "touser": message.address,
            "template_id": str(rendered["template_id"]),
            "url": str(rendered.get("url") or ""),
            "data": {k: {"value": str(v)} for k, v in rendered.get("data", {}).items()},
        }
        with httpx.Client(timeout=timeout_of(creds)) as client:
            for _ in range(2):
                token = self._token(client, base, creds)
                if isinstance(token, SendResult):
                    return token
                answer = post(
                    lambda t=token: client.post(
                        f"{base}/cgi-bin/message/template/send",
                        params={"access_token": t},
                        json=payload,
                    )
                )
                if isinstance(answer, SendResult):
                    return answer
                if answer.status_code != 200:
                    return by_status(answer, answer.text[:200])
                body = answer.json()
                errcode = int(body.get("errcode", -1))
                if errcode in TOKEN_INVALID:
                    # The token was refused before anything was sent: refresh once.
                    self.tokens.drop((base, str(creds.need("appid"))))
                    continue
                if errcode == 0:
                    return SendResult("sent", provider_message_id=str(body.get("msgid")))
                return SendResult(
                    "failed",
                    retryable=errcode in RETRYABLE_ERRCODES,
                    error=f"errcode {errcode}: {body.get('errmsg', '')}",
                )
        return SendResult("failed", retryable=True, error="access token refused twice")

    def parse_callback(self, request: CallbackRequest, creds: Credentials) -> list[StatusUpdate]:
        token = str(creds.get("token") or "")
        q = request.query
        expected = wechat_signature(token, q.get("timestamp", ""), q.get("nonce", ""))
        if not token or not hmac.compare_digest(expected, q.get("signature", "")):
            raise CallbackRejected("bad signature")
        if request.method == "GET":
            return []
        root = ElementTree.fromstring(request.body)
        event = (root.findtext("Event") or "").strip()
        openid = root.findtext("FromUserName")
        if event == "unsubscribe":
            # The member unfollowed the account: template messages can no longer reach them.
            return [StatusUpdate(status="stop", address=openid)]
        if event != "TEMPLATESENDJOBFINISH":
            return []
        status = (root.findtext("Status") or "").strip()
        mapped = "delivered" if status == "success" else "failed"
        return [
            StatusUpdate(
                status=mapped,
                provider_message_id=root.findtext("MsgID") or root.findtext("MsgId"),
                address=openid,
                error=None if mapped == "delivered" else status,
            )
        ]
