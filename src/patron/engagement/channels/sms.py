"""SMS through a Twilio-style HTTP API.

Send: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``,
``From``, ``Body``, ``StatusCallback``, HTTP basic auth (AccountSid, AuthToken). Status
callbacks and inbound messages arrive form-encoded, signed with ``X-Twilio-Signature``
(base64 HMAC-SHA1 of the URL followed by the sorted parameters, keyed with the AuthToken).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx

from patron.engagement.channels.base import (
    CallbackRejected,
    CallbackRequest,
    Credentials,
    Outgoing,
    SendResult,
    StatusUpdate,
)
from patron.engagement.channels.common import (
    ChannelDefaults,
    by_status,
    message_ref,
    post,
    timeout_of,
)

DEFAULT_BASE_URL = "https://api.twilio.com"
# Twilio's default opt-out and opt-in keywords (single word, case-insensitive), plus the
# Chinese "unsubscribe" replies that carriers in China use.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "退订", "TD"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
STATUS_MAP = {
    "delivered": "delivered",
    "failed": "failed",
    "undelivered": "failed",
    "sent": "sent",
    "read": "read",
}


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's request signature over the full URL and the POST parameters."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def inbound_opt(form: dict[str, str]) -> str | None:
    """ "stop", "start" or None for an inbound SMS. With Twilio's Advanced Opt-Out the
    ``OptOutType`` field says it (STOP / START / HELP, keywords the merchant configured);
    otherwise the default keywords decide."""
    declared = form.get("OptOutType", "").upper()
    if declared in ("STOP", "START"):
        return declared.lower()
    word = form.get("Body", "").strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


class SmsChannel(ChannelDefaults):
    name = "sms"

    def resend_unknown_is_safe(self, creds: Credentials) -> bool:
        # Only when the provider honours our Idempotency-Key header (a setting: Twilio's own
        # API does not document one, many aggregators do).
        return bool(creds.get("honours_idempotency_key", False))

    def address_of(self, member: Any, identities: dict[str, str]) -> str | None:
        phone: str | None = member.phone
        return phone

    def send(self, message: Outgoing, rendered: dict[str, Any], creds: Credentials) -> SendResult:
        sid = str(creds.need("account_sid"))
        base = (creds.base_url or DEFAULT_BASE_URL).rstrip("/")
        form = {
            "To": message.address,
            "From": str(creds.need("from_number")),
            "Body": str(rendered.get("body", "")),
        }
        if message.callback_url:  # none for a one-time sign-in code (ADR 1300)
            form["StatusCallback"] = message.callback_url
        with httpx.Client(timeout=timeout_of(creds)) as client:
            answer = post(
                lambda: client.post(
                    f"{base}/2010-04-01/Accounts/{sid}/Messages.json",
                    data=form,
                    auth=(sid, str(creds.need("auth_token"))),
                    headers={"Idempotency-Key": message.idempotency_key},
                )
            )
        if isinstance(answer, SendResult):
            return answer
        if answer.status_code in (200, 201):
            return SendResult("sent", provider_message_id=str(answer.json()["sid"]))
        try:
            detail = str(answer.json().get("message", ""))
        except ValueError:
            detail = answer.text[:200]
        return by_status(answer, detail)

    def parse_callback(self, request: CallbackRequest, creds: Credentials) -> list[StatusUpdate]:
        token = str(creds.get("auth_token") or "")
        expected = twilio_signature(token, request.url, request.form)
        given = request.headers.get("x-twilio-signature", "")
        if not token or not hmac.compare_digest(expected, given):
            raise CallbackRejected("bad X-Twilio-Signature")
        form = request.form
        if "MessageStatus" not in form:
            # An inbound message from the member: only opt-out / opt-in words matter here.
            kind = inbound_opt(form)
            return [StatusUpdate(status=kind, address=form.get("From"))] if kind else []
        status = STATUS_MAP.get(form["MessageStatus"])
        if status is None:  # queued, sending, accepted: progress we do not track
            return []
        return [
            StatusUpdate(
                status=status,
                provider_message_id=form.get("MessageSid"),
                message_id=message_ref(request.query.get("ref")),
                error=form.get("ErrorCode"),
            )
        ]
