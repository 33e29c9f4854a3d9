"""WhatsApp Cloud API template messages.

Send: ``POST {base}/{version}/{phone-number-id}/messages`` with a Bearer token and JSON
``{messaging_product, to, type: "template", template: {name, language: {code}, components}}``.
We add ``biz_opaque_callback_data`` (our message id), which the status webhook echoes back, so a
send that timed out can still be matched to its ``delivered``/``failed`` status.
Webhooks: ``entry[].changes[].value.statuses[]``, signed ``X-Hub-Signature-256: sha256=<hex>``
(HMAC-SHA256 of the raw body with the app secret).
"""

from __future__ import annotations

import hmac
import json
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
    hmac_hex,
    message_ref,
    post,
    timeout_of,
)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v21.0"
# Meta error codes worth retrying: rate limits and temporary service errors.
RETRYABLE_CODES = frozenset({4, 80007, 130429, 131000, 131016, 131048, 131056, 133004})
STATUS_MAP = {"delivered": "delivered", "read": "read", "failed": "failed", "sent": "sent"}


def template_payload(message: Outgoing, rendered: dict[str, Any]) -> dict[str, Any]:
    """The documented request body for a template message."""
    parameters = [{"type": "text", "text": str(p)} for p in rendered.get("parameters", [])]
    components = [{"type": "body", "parameters": parameters}] if parameters else []
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.address.lstrip("+"),
        "type": "template",
        "template": {
            "name": str(rendered["template_name"]),
            "language": {"code": str(rendered.get("language", "en"))},
            "components": components,
        },
        "biz_opaque_callback_data": f"patron:{message.message_id}",
    }


class WhatsAppChannel(ChannelDefaults):
    name = "whatsapp"

    def resend_unknown_is_safe(self, creds: Credentials) -> bool:
        return False  # no idempotency key: an unknown waits for its status webhook

    def address_of(self, member: Any, identities: dict[str, str]) -> str | None:
        phone: str | None = member.phone
        return phone

    def send(self, message: Outgoing, rendered: dict[str, Any], creds: Credentials) -> SendResult:
        base = (creds.base_url or DEFAULT_BASE_URL).rstrip("/")
        version = str(creds.get("api_version") or DEFAULT_VERSION)
        url = f"{base}/{version}/{creds.need('phone_number_id')}/messages"
        headers = {"Authorization": f"Bearer {creds.need('access_token')}"}
        with httpx.Client(timeout=timeout_of(creds)) as client:
            answer = post(
                lambda: client.post(url, json=template_payload(message, rendered), headers=headers)
            )
        if isinstance(answer, SendResult):
            return answer
        try:
            body = answer.json()
        except ValueError:
            return by_status(answer, answer.text[:200])
        if answer.status_code == 200 and body.get("messages"):
            return SendResult("sent", provider_message_id=str(body["messages"][0]["id"]))
        error = body.get("error", {})
        if error.get("code") in RETRYABLE_CODES:
            return SendResult("failed", retryable=True, error=f"{error.get('code')}")
        return by_status(answer, f"{error.get('code')} {error.get('message', '')}")

    def parse_callback(self, request: CallbackRequest, creds: Credentials) -> list[StatusUpdate]:
        secret = str(creds.get("app_secret") or "")
        given = request.headers.get("x-hub-signature-256", "")
        if not secret or not hmac.compare_digest(given, "sha256=" + hmac_hex(secret, request.body)):
            raise CallbackRejected("bad X-Hub-Signature-256")
        body = json.loads(request.body)
        updates: list[StatusUpdate] = []
        for entry in body.get("entry", []):
            for change in entry.get("changes", []):
                for status in change.get("value", {}).get("statuses", []):
                    mapped = STATUS_MAP.get(str(status.get("status")))
                    if mapped is None:
                        continue
                    errors = status.get("errors") or [{}]
                    updates.append(
                        StatusUpdate(
                            status=mapped,
                            provider_message_id=status.get("id"),
                            message_id=message_ref(status.get("biz_opaque_callback_data")),
                            error=errors[0].get("title") if mapped == "failed" else None,
                        )
                    )
        return updates
