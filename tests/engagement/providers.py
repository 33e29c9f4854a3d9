"""Local stand-ins for the providers, speaking their documented HTTP and SMTP shapes.

- :class:`SmtpSink`: a real aiosmtpd server on loopback that keeps every message it receives.
- :class:`ProviderServer`: one ``http.server`` thread on 127.0.0.1 (port 0) implementing
  Twilio's Messages.json, the WhatsApp Cloud API ``/messages`` and WeChat's ``/cgi-bin/token``
  and ``/cgi-bin/message/template/send``, with auth checks and request-shape validation,
  issuing message ids, and able to send status callbacks back to Patron.
"""

from __future__ import annotations

import base64
import collections
import email
import email.policy
import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiosmtpd.controller import Controller

from patron.engagement.channels.sms import twilio_signature
from patron.engagement.channels.wechat import wechat_signature

Poster = Callable[[str, bytes, dict[str, str]], int]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _SmtpHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append(message)  # type: ignore[arg-type]
            self.sink.by_message_id[str(message["Message-ID"])] += 1
        return "250 OK"


class SmtpSink:
    """aiosmtpd on 127.0.0.1; ``by_message_id`` counts copies of each Message-ID."""

    def __init__(self, keep_messages: bool = True) -> None:
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.by_message_id: collections.Counter[str] = collections.Counter()
        self.port = free_port()
        self.controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def credentials(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "from_address": "news@alpha.test",
            "from_name": "Alpha Tea",
        }


@dataclass
class ProviderState:
    sid: str = "AC" + "1" * 32
    auth_token: str = "twilio-token"
    wa_token: str = "wa-access-token"
    wa_phone_id: str = "1098765"
    wa_app_secret: str = "wa-app-secret"
    wechat_appid: str = "wx1234567890"
    wechat_secret: str = "wechat-secret"
    wechat_token: str = "wechat-push-token"
    sms: list[dict[str, str]] = field(default_factory=list)
    sms_by_key: dict[str, str] = field(default_factory=dict)
    whatsapp: list[dict[str, Any]] = field(default_factory=list)
    wechat: list[dict[str, Any]] = field(default_factory=list)
    token_fetches: int = 0
    access_tokens: set[str] = field(default_factory=set)
    # Test switches: sleep before answering (timeouts), fail the next N requests with 503.
    delay_seconds: float = 0.0
    fail_next: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:
        return None

    def _reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _gate(self) -> bool:
        state = self.server.state
        if state.delay_seconds:
            time.sleep(state.delay_seconds)
        with self.server.lock:
            if state.fail_next > 0:
                state.fail_next -= 1
                self._reply(503, {"message": "service unavailable"})
                return False
        return True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/cgi-bin/token":
            self._wechat_token(dict(parse_qsl(url.query)))
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self._body()
        if not self._gate():
            return
        parts = url.path.strip("/").split("/")
        if url.path.startswith("/2010-04-01/Accounts/") and url.path.endswith("/Messages.json"):
            self._twilio(parts[2], body)
        elif len(parts) == 3 and parts[2] == "messages":
            self._whatsapp(parts[1], body)
        elif url.path == "/cgi-bin/message/template/send":
            self._wechat_send(dict(parse_qsl(url.query)), body)
        else:
            self._reply(404, {"error": "not found"})

    # Twilio ---------------------------------------------------------------------------
    def _twilio(self, sid: str, body: bytes) -> None:
        state = self.server.state
        expected = "Basic " + base64.b64encode(f"{state.sid}:{state.auth_token}".encode()).decode()
        if sid != state.sid or self.headers.get("Authorization") != expected:
            self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
            return
        form = dict(parse_qsl(body.decode()))
        for name in ("To", "From", "Body"):
            if not form.get(name):
                self._reply(
                    400, {"code": 21604, "message": f"A '{name}' is required", "status": 400}
                )
                return
        if not form["To"].startswith("+") or not form["To"][1:].isdigit():
            self._reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
            return
        key = self.headers.get("Idempotency-Key", "")
        with self.server.lock:
            if key and key in state.sms_by_key:
                message_sid = state.sms_by_key[key]  # same key: same message, not a new one
            else:
                message_sid = f"SM{next(self.server.ids):032d}"
                state.sms.append({**form, "sid": message_sid, "idempotency_key": key})
                if key:
                    state.sms_by_key[key] = message_sid
        self._reply(
            201,
            {
                "sid": message_sid,
                "status": "queued",
                "to": form["To"],
                "from": form["From"],
                "body": form["Body"],
                "account_sid": sid,
                "num_segments": "1",
                "direction": "outbound-api",
            },
        )

    # WhatsApp -------------------------------------------------------------------------
    def _whatsapp(self, phone_id: str, body: bytes) -> None:
        state = self.server.state
        if self.headers.get("Authorization") != f"Bearer {state.wa_token}":
            self._reply(
                401,
                {
                    "error": {
                        "message": "Invalid OAuth access token",
                        "type": "OAuthException",
                        "code": 190,
                    }
                },
            )
            return
        payload = json.loads(body)
        template = payload.get("template") or {}
        ok = (
            phone_id == state.wa_phone_id
            and payload.get("messaging_product") == "whatsapp"
            and payload.get("type") == "template"
            and str(payload.get("to", "")).isdigit()
            and template.get("name")
            and (template.get("language") or {}).get("code")
        )
        if not ok:
            self._reply(
                400,
                {
                    "error": {
                        "message": "(#100) Invalid parameter",
                        "type": "OAuthException",
                        "code": 100,
                    }
                },
            )
            return
        wamid = f"wamid.HBgM{next(self.server.ids):020d}"
        with self.server.lock:
            state.whatsapp.append({**payload, "id": wamid})
        self._reply(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                "messages": [{"id": wamid}],
            },
        )

    # WeChat ---------------------------------------------------------------------------
    def _wechat_token(self, query: dict[str, str]) -> None:
        state = self.server.state
        if (
            query.get("grant_type") != "client_credential"
            or query.get("appid") != state.wechat_appid
        ):
            self._reply(200, {"errcode": 40013, "errmsg": "invalid appid"})
            return
        if query.get("secret") != state.wechat_secret:
            self._reply(200, {"errcode": 40001, "errmsg": "invalid credential"})
            return
        token = f"ACCESS_TOKEN_{next(self.server.ids)}"
        with self.server.lock:
            state.token_fetches += 1
            state.access_tokens.add(token)
        self._reply(200, {"access_token": token, "expires_in": 7200})

    def _wechat_send(self, query: dict[str, str], body: bytes) -> None:
        state = self.server.state
        if query.get("access_token") not in state.access_tokens:
            self._reply(
                200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            )
            return
        payload = json.loads(body)
        data = payload.get("data")
        if (
            not payload.get("touser")
            or not payload.get("template_id")
            or not isinstance(data, dict)
            or not all(isinstance(v, dict) and "value" in v for v in data.values())
        ):
            self._reply(200, {"errcode": 47001, "errmsg": "data format error"})
            return
        msgid = next(self.server.ids)
        with self.server.lock:
            state.wechat.append({**payload, "msgid": msgid})
        self._reply(200, {"errcode": 0, "errmsg": "ok", "msgid": msgid})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ProviderState
    lock: threading.Lock
    ids: itertools.count[int]


class ProviderServer:
    """The SMS, WhatsApp and WeChat providers on one loopback port."""

    def __init__(self, post: Poster) -> None:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.state = ProviderState()
        self.httpd.lock = threading.Lock()
        self.httpd.ids = itertools.count(200_000_001)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.post = post

    @property
    def state(self) -> ProviderState:
        return self.httpd.state

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ProviderServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # Callbacks back to Patron ---------------------------------------------------------
    def sms_status(self, sid: str, status: str, error_code: str | None = None) -> int:
        """Twilio's status callback to the message's StatusCallback URL."""
        sent = next(m for m in self.state.sms if m["sid"] == sid)
        form = {
            "MessageSid": sid,
            "MessageStatus": status,
            "AccountSid": self.state.sid,
            "From": sent["From"],
            "To": sent["To"],
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            form["ErrorCode"] = error_code
        return self._signed_form(sent["StatusCallback"], form)

    def sms_inbound(self, url: str, from_number: str, body: str) -> int:
        """A member's text to the merchant's number (e.g. STOP)."""
        form = {
            "MessageSid": f"SM{next(self.httpd.ids):032d}",
            "AccountSid": self.state.sid,
            "From": from_number,
            "To": "+15550001111",
            "Body": body,
            "NumMedia": "0",
            "SmsStatus": "received",
        }
        return self._signed_form(url, form)

    def _signed_form(self, url: str, form: dict[str, str], token: str | None = None) -> int:
        signature = twilio_signature(token or self.state.auth_token, url, form)
        return self.post(
            url,
            urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )

    def whatsapp_status(self, url: str, wamid: str, status: str, secret: str | None = None) -> int:
        sent = next(m for m in self.state.whatsapp if m["id"] == wamid)
        item: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": sent["to"],
        }
        if "biz_opaque_callback_data" in sent:
            item["biz_opaque_callback_data"] = sent["biz_opaque_callback_data"]
        if status == "failed":
            item["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "WABA_ID",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": "15550001111",
                                        "phone_number_id": self.state.wa_phone_id,
                                    },
                                    "statuses": [item],
                                },
                            }
                        ],
                    }
                ],
            }
        ).encode()
        digest = hmac.new((secret or self.state.wa_app_secret).encode(), body, hashlib.sha256)
        return self.post(
            url,
            body,
            {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": "sha256=" + digest.hexdigest(),
            },
        )

    def wechat_event(self, url: str, openid: str, xml_fields: dict[str, str]) -> int:
        timestamp, nonce = str(int(time.time())), "381726"
        signature = wechat_signature(self.state.wechat_token, timestamp, nonce)
        fields = {
            "ToUserName": "gh_merchant",
            "FromUserName": openid,
            "CreateTime": timestamp,
            "MsgType": "event",
            **xml_fields,
        }
        xml = "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>"
        query = urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce})
        return self.post(f"{url}?{query}", xml.encode(), {"Content-Type": "text/xml"})

    def wechat_job_finished(self, url: str, openid: str, msgid: int, status: str) -> int:
        return self.wechat_event(
            url, openid, {"Event": "TEMPLATESENDJOBFINISH", "MsgID": str(msgid), "Status": status}
        )
