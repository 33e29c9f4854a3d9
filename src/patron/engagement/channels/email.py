"""Email over SMTP: HTML and text parts, RFC 8058 one-click unsubscribe, a stable Message-ID.

SMTP has no idempotency key. The Message-ID is derived from the message's idempotency key, so
a copy re-sent after a crash carries the same Message-ID and receivers that de-duplicate on it
(Gmail does; our test server does) show it once. See ADR 0402 for the window this leaves.
"""

from __future__ import annotations

import binascii
import contextlib
import email.policy
import hashlib
import json
import smtplib
import threading
from email.header import Header
from email.message import EmailMessage
from email.parser import BytesParser
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
    """The MIME message as an :class:`EmailMessage` (previews, tests, and the reference the
    fast :func:`email_bytes` is checked against)."""
    return BytesParser(policy=email.policy.default).parsebytes(
        email_bytes(message, rendered, creds)
    )


def _one_line(value: str) -> str:
    # A CR or LF in a header value would start a new header (header injection).
    return value.replace("\r", " ").replace("\n", " ")


def _header(name: str, value: str) -> bytes:
    value = _one_line(value)
    if value.isascii() and len(name) + len(value) < 900:
        return f"{name}: {value}\r\n".encode("ascii")
    # RFC 2047 encoded words, folded: only for non-ASCII or very long values.
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


def _part(content_type: str, body: str) -> bytes:
    # Quoted-printable by binascii (C), CRLF line ends; "=" is always escaped, so the boundary
    # (which contains "==") can never occur inside a part.
    normal = body.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    if not normal.endswith(b"\n"):
        normal += b"\n"  # a body ends with a line break (as EmailMessage.set_content does)
    encoded = binascii.b2a_qp(normal, quotetabs=False, istext=True).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + encoded


def email_bytes(message: Outgoing, rendered: dict[str, Any], creds: Credentials) -> bytes:
    """The MIME message, CRLF-terminated, ready for DATA: text part, HTML alternative, RFC 8058
    unsubscribe headers, a Message-ID derived from the idempotency key.

    Built directly as bytes: ``EmailMessage`` with ``email.policy`` parses and re-folds every
    header and cost several milliseconds per message, more than the SMTP exchange itself.
    """
    from_address = _one_line(str(creds.need("from_address")))
    name = _one_line(str(creds.get("from_name") or message.merchant_name))
    message_id = message_id_header(message.idempotency_key, from_address)
    boundary = f"==patron-{message_id[1:17]}=="
    head = b"".join(
        (
            b"From: " + formataddr((name, from_address), charset="utf-8").encode("ascii") + b"\r\n",
            _header("To", message.address),
            _header("Subject", str(rendered.get("subject", ""))),
            _header("Message-ID", message_id),
            _header("Date", format_datetime(message.created_at)),
            # RFC 2369 + RFC 8058: an HTTPS URI that accepts a POST of "List-Unsubscribe=One-Click".
            # None on a one-time sign-in code (nothing to unsubscribe from; ADR 1300).
            _header("List-Unsubscribe", f"<{message.unsubscribe_url}>")
            if message.unsubscribe_url
            else b"",
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            if message.unsubscribe_url
            else b"",
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
        )
    )
    separator = f"\r\n--{boundary}\r\n".encode()
    return b"".join(
        (
            head,
            separator[2:],
            _part("text/plain", str(rendered.get("text", ""))),
            separator,
            _part("text/html", str(rendered.get("html", ""))),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )


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
        if not message.address.isascii():
            # An internationalised mailbox needs SMTPUTF8, which we do not speak yet.
            return SendResult("failed", retryable=False, error="non-ASCII address")
        mail = email_bytes(message, rendered, creds)
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

    def _transmit(self, mail: bytes, message: Outgoing, creds: Credentials) -> SendResult:
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
            code, reply = smtp.data(mail)  # already CRLF (smtplib fixes only str payloads)
        except smtplib.SMTPDataError as exc:  # DATA refused before any content was sent
            return SendResult(
                "failed", retryable=exc.smtp_code < 500, error=f"DATA {exc.smtp_code}"
            )
        except OSError as exc:  # timeouts and cut connections (SMTPServerDisconnected too)
            self._drop(creds)
            return SendResult("unknown", error=f"DATA: {type(exc).__name__}")
        if code != 250:
            return SendResult("failed", retryable=code < 500, error=f"DATA {code}")
        return SendResult(
            "sent",
            provider_message_id=message_id_header(
                message.idempotency_key, str(creds.need("from_address"))
            ),
        )

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
