"""Email over SMTP: HTML and text parts, RFC 8058 one-click unsubscribe, a stable Message-ID.

SMTP has no idempotency key. The Message-ID is derived from the message's idempotency key, so
a copy re-sent after a crash carries the same Message-ID and receivers that de-duplicate on it
(Gmail does; our test server does) show it once. See ADR 0402 for the window this leaves.
"""

from __future__ import annotations

import contextlib
import email.policy
import hashlib
import json
import smtplib
import threading
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from patron.engagement.channels.base import (
    CallbackRejected,
    CallbackRequest,
    Credentials,
    Outgoing,
    SendResult,
    StatusUpdate,
)
from patron.engagement.channels.common import ChannelDefaults, hmac_hex, message_ref

SMTP_TIMEOUT = 15.0


def message_id_header(idempotency_key: str, from_address: str) -> str:
    """``<hash@domain>``: the same key always gives the same Message-ID."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    domain = from_address.rpartition("@")[2] or "patron.invalid"
    return f"<{digest}@{domain}>"


def build_email(message: Outgoing, rendered: dict[str, Any], creds: Credentials) -> EmailMessage:
    """The MIME message: text part, HTML alternative, unsubscribe headers."""
    from_address = str(creds.need("from_address"))
    mail = EmailMessage()
    mail["From"] = formataddr((str(creds.get("from_name") or message.merchant_name), from_address))
    mail["To"] = message.address
    mail["Subject"] = str(rendered.get("subject", ""))
    mail["Message-ID"] = message_id_header(message.idempotency_key, from_address)
    mail["Date"] = format_datetime(message.created_at)
    # RFC 2369 + RFC 8058: an HTTPS URI that accepts a POST of "List-Unsubscribe=One-Click".
    mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(str(rendered.get("text", "")))
    mail.add_alternative(str(rendered.get("html", "")), subtype="html")
    return mail


class _Connections(threading.local):
    def __init__(self) -> None:
        self.open: dict[tuple[str, int, str], smtplib.SMTP] = {}


class EmailChannel(ChannelDefaults):
    """SMTP delivery. Connections are reused per worker thread (one EHLO for many messages)."""

    name = "email"

    def __init__(self) -> None:
        self._connections = _Connections()

    def resend_unknown_is_safe(self, creds: Credentials) -> bool:
        return True

    def address_of(self, member: Any, identities: dict[str, str]) -> str | None:
        email: str | None = member.email
        return email

    def _connect(self, creds: Credentials) -> smtplib.SMTP:
        host, port = str(creds.need("host")), int(creds.get("port", 25))
        user = str(creds.get("username") or "")
        key = (host, port, user)
        smtp = self._connections.open.get(key)
        if smtp is not None:
            return smtp
        if creds.get("use_ssl"):
            smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT)
        else:
            smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
            if creds.get("starttls"):
                smtp.starttls()
        smtp.ehlo_or_helo_if_needed()
        if user:
            smtp.login(user, str(creds.get("password") or ""))
        self._connections.open[key] = smtp
        return smtp

    def _drop(self, creds: Credentials) -> None:
        key = (str(creds.get("host")), int(creds.get("port", 25)), str(creds.get("username") or ""))
        smtp = self._connections.open.pop(key, None)
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def send(self, message: Outgoing, rendered: dict[str, Any], creds: Credentials) -> SendResult:
        mail = build_email(message, rendered, creds)
        for attempt in (1, 2):
            try:
                return self._transmit(mail, message, creds)
            except _StaleConnection:
                # The reused connection was closed by the server before MAIL FROM was accepted:
                # nothing was sent, so reconnect once.
                self._drop(creds)
                if attempt == 2:
                    return SendResult("failed", retryable=True, error="smtp connection lost")
            except (OSError, smtplib.SMTPException) as exc:
                self._drop(creds)
                return SendResult("failed", retryable=True, error=f"smtp connect: {exc}")
        return SendResult("failed", retryable=True, error="unreachable")  # pragma: no cover

    def _transmit(self, mail: EmailMessage, message: Outgoing, creds: Credentials) -> SendResult:
        smtp = self._connect(creds)
        sender = str(creds.need("from_address"))
        try:
            code, reply = smtp.mail(sender)
            if code != 250:
                smtp.rset()
                return SendResult("failed", retryable=code < 500, error=f"MAIL {code}")
            code, reply = smtp.rcpt(message.address)
            if code not in (250, 251):
                smtp.rset()
                return SendResult(
                    "failed", retryable=code < 500, error=f"RCPT {code} {reply.decode()}"
                )
        except smtplib.SMTPServerDisconnected as exc:
            raise _StaleConnection from exc
        # From here on the server may have the message: a timeout or a cut is ``unknown``.
        try:
            # SMTP wants CRLF line ends; smtplib only fixes them for str payloads, not bytes.
            code, reply = smtp.data(mail.as_bytes(policy=email.policy.SMTP))
        except smtplib.SMTPDataError as exc:  # DATA refused before any content was sent
            return SendResult(
                "failed", retryable=exc.smtp_code < 500, error=f"DATA {exc.smtp_code}"
            )
        except OSError as exc:  # timeouts and cut connections (SMTPServerDisconnected too)
            self._drop(creds)
            return SendResult("unknown", error=f"DATA: {type(exc).__name__}")
        if code != 250:
            return SendResult("failed", retryable=code < 500, error=f"DATA {code}")
        return SendResult("sent", provider_message_id=str(mail["Message-ID"]))

    def parse_callback(self, request: CallbackRequest, creds: Credentials) -> list[StatusUpdate]:
        """Bounce notices from the merchant's mail relay: JSON ``{"message_ref", "type"}``
        signed with the ``bounce_secret`` setting (``X-Patron-Signature: sha256=<hex>``)."""
        secret = str(creds.get("bounce_secret") or "")
        given = request.headers.get("x-patron-signature", "")
        if not secret or given != "sha256=" + hmac_hex(secret, request.body):
            raise CallbackRejected("bad signature")
        body = json.loads(request.body)
        kind = {"bounce": "bounced", "complaint": "stop", "delivered": "delivered"}.get(
            str(body.get("type")), ""
        )
        if not kind:
            return []
        return [
            StatusUpdate(
                status=kind,
                provider_message_id=body.get("message_id"),
                message_id=message_ref(str(body.get("message_ref") or "")),
                error=body.get("diagnostic"),
            )
        ]


class _StaleConnection(Exception):
    pass
