"""Local HTTP servers that speak each provider's documented API (create, query, refund) and
send signed notifications, with keys made here. No provider SDK, no mock of Patron."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from patron.payments.providers.alipay import signing_string
from patron.payments.providers.common import fen, rsa_sign, rsa_verify, yuan
from patron.payments.providers.stripe import signature_header

CHINA = timezone(timedelta(hours=8))
# Sends a notification: (url, headers, body) → the HTTP status Patron answered.
Sender = Callable[[str, dict[str, str], bytes], int]


def http_sender(url: str, headers: dict[str, str], body: bytes) -> int:
    return httpx.post(url, headers=headers, content=body, timeout=30).status_code


def key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a new 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


# Made once per test process: RSA key generation is slow-ish.
_KEYS: dict[str, tuple[str, str]] = {}


def keys(name: str) -> tuple[str, str]:
    if name not in _KEYS:
        _KEYS[name] = key_pair()
    return _KEYS[name]


@dataclass
class Trade:
    out_trade_no: str
    amount_minor: int
    currency: str
    notify_url: str
    paid: bool = False
    txn_id: str = field(default_factory=lambda: secrets.token_hex(8))
    refunds: dict[str, int] = field(default_factory=dict)


class FakeProvider:
    """A provider's server: trades by out_trade_no, calls seen, and a switch to stall."""

    def __init__(self, now: Callable[[], datetime], sender: Sender = http_sender) -> None:
        self.now = now
        self.sender = sender
        self.trades: dict[str, Trade] = {}
        self.calls: list[tuple[str, str]] = []
        self.stall_seconds = 0.0  # > Patron's timeout: the call times out
        self.refused_auth = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with fake.lock:
                    fake.calls.append((self.command, self.path))
                    status, out, headers = fake.handle(
                        self.command, self.path, dict(self.headers.items()), body
                    )
                if fake.stall_seconds:  # done, but the answer comes too late
                    time.sleep(fake.stall_seconds)
                with contextlib.suppress(OSError):  # the client gave up (a timeout)
                    self._reply(status, out, headers)

            do_GET = _handle
            do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        raise NotImplementedError

    def settings(self) -> tuple[str, dict[str, Any]]:
        """(base_url, credentials) for Patron's settings."""
        raise NotImplementedError

    def notification(self, trade: Trade, **over: Any) -> tuple[dict[str, str], bytes]:
        raise NotImplementedError

    def pay(self, out_trade_no: str, *, notify: int = 1) -> list[int]:
        """The member pays; the provider notifies ``notify`` times (each as sent: the same
        notification again, as a provider retries). Returns Patron's answers."""
        trade = self.trades[out_trade_no]
        trade.paid = True
        headers, body = self.notification(trade)
        return [self.sender(trade.notify_url, headers, body) for _ in range(notify)]


class FakeWeChatPay(FakeProvider):
    MCHID = "1900000109"
    APPID = "wxd678efh567hg6787"
    SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"

    def __init__(self, now: Callable[[], datetime], sender: Sender = http_sender) -> None:
        super().__init__(now, sender)
        self.merchant_private, self.merchant_public = keys("wechat-merchant")
        self.platform_private, self.platform_public = keys("wechat-platform")
        self.api_v3_key = "a" * 16 + "B" * 16

    def settings(self) -> tuple[str, dict[str, Any]]:
        return self.url, {
            "mchid": self.MCHID,
            "appid": self.APPID,
            "serial_no": self.SERIAL,
            "private_key": self.merchant_private,
            "api_v3_key": self.api_v3_key,
            "platform_public_key": self.platform_public,
            "timeout_seconds": 2,
        }

    def _signed(self, status: int, doc: dict[str, Any] | None) -> tuple[int, bytes, dict[str, str]]:
        body = json.dumps(doc).encode() if doc is not None else b""
        return status, body, {"Content-Type": "application/json", **self._sign(body)}

    def _sign(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(self.now().timestamp()))
        nonce = secrets.token_hex(16)
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": rsa_sign(self.platform_private, message),
            "Wechatpay-Serial": "PUB_KEY_ID_0001",
        }

    def _authorized(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
        auth = headers.get("Authorization", "")
        if not auth.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return False
        parts = dict(
            p.split("=", 1) for p in auth.removeprefix("WECHATPAY2-SHA256-RSA2048 ").split(",")
        )
        fields = {k: v.strip('"') for k, v in parts.items()}
        message = (
            f"{method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode()
            + body
            + b"\n"
        )
        return fields.get("mchid") == self.MCHID and rsa_verify(
            self.merchant_public, message, fields["signature"]
        )

    def _doc(self, trade: Trade) -> dict[str, Any]:
        return {
            "appid": self.APPID,
            "mchid": self.MCHID,
            "out_trade_no": trade.out_trade_no,
            "transaction_id": f"4200{trade.txn_id}",
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS" if trade.paid else "NOTPAY",
            "trade_state_desc": "",
            "success_time": self.now().astimezone(CHINA).isoformat(timespec="seconds"),
            "amount": {
                "total": trade.amount_minor,
                "payer_total": trade.amount_minor,
                "currency": trade.currency,
                "payer_currency": trade.currency,
            },
        }

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        if not self._authorized(method, path, headers, body):
            self.refused_auth += 1
            return self._signed(401, {"code": "SIGN_ERROR", "message": "bad signature"})
        url = urlsplit(path)
        if method == "POST" and url.path == "/v3/pay/transactions/native":
            doc = json.loads(body)
            assert doc["mchid"] == self.MCHID and doc["appid"] == self.APPID
            trade = self.trades.setdefault(
                doc["out_trade_no"],
                Trade(
                    doc["out_trade_no"],
                    doc["amount"]["total"],
                    doc["amount"].get("currency", "CNY"),
                    doc["notify_url"],
                ),
            )
            return self._signed(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={trade.txn_id}"})
        if method == "GET" and url.path.startswith("/v3/pay/transactions/out-trade-no/"):
            found = self.trades.get(url.path.rsplit("/", 1)[1])
            if found is None:
                return self._signed(404, {"code": "ORDER_NOT_EXIST", "message": "no order"})
            return self._signed(200, self._doc(found))
        if method == "POST" and url.path == "/v3/refund/domestic/refunds":
            doc = json.loads(body)
            trade = self.trades[doc["out_trade_no"]]
            assert doc["amount"]["total"] == trade.amount_minor
            trade.refunds.setdefault(doc["out_refund_no"], doc["amount"]["refund"])
            return self._signed(
                200,
                {
                    "refund_id": f"5030{trade.txn_id}",
                    "out_refund_no": doc["out_refund_no"],
                    "status": "SUCCESS",
                    "amount": {"refund": doc["amount"]["refund"], "total": trade.amount_minor},
                },
            )
        return self._signed(404, {"code": "NOT_FOUND", "message": path})

    def notification(self, trade: Trade, **over: Any) -> tuple[dict[str, str], bytes]:
        doc = self._doc(trade)
        doc.update(over)
        nonce = secrets.token_hex(6)
        associated = "transaction"
        ciphertext = AESGCM(self.api_v3_key.encode()).encrypt(
            nonce.encode(), json.dumps(doc).encode(), associated.encode()
        )
        body = json.dumps(
            {
                "id": secrets.token_hex(8),
                "create_time": self.now().astimezone(CHINA).isoformat(timespec="seconds"),
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": associated,
                    "nonce": nonce,
                },
            }
        ).encode()
        return {"Content-Type": "application/json", **self._sign(body)}, body


class FakeAlipay(FakeProvider):
    APP_ID = "2021000000000001"

    def __init__(self, now: Callable[[], datetime], sender: Sender = http_sender) -> None:
        super().__init__(now, sender)
        self.app_private, self.app_public = keys("alipay-app")
        self.alipay_private, self.alipay_public = keys("alipay-platform")

    def settings(self) -> tuple[str, dict[str, Any]]:
        # Alipay's console shows the public key as bare base64: pasted so here.
        bare = "".join(
            line for line in self.alipay_public.splitlines() if not line.startswith("-----")
        )
        return f"{self.url}/gateway.do", {
            "app_id": self.APP_ID,
            "private_key": self.app_private,
            "alipay_public_key": bare,
            "timeout_seconds": 2,
        }

    def _answer(self, method: str, node: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        raw = json.dumps(node, ensure_ascii=False)
        sign = rsa_sign(self.alipay_private, raw.encode())
        name = method.replace(".", "_") + "_response"
        text = f'{{"{name}":{raw},"sign":"{sign}"}}'
        return 200, text.encode(), {"Content-Type": "application/json;charset=utf-8"}

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        params = dict(parse_qsl(body.decode()))
        api = params.get("method", "")
        if params.get("app_id") != self.APP_ID or not rsa_verify(
            self.app_public, signing_string(params), params.get("sign", "")
        ):
            self.refused_auth += 1
            return self._answer(
                api,
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"},
            )
        biz = json.loads(params["biz_content"])
        if api == "alipay.trade.precreate":
            minor = fen(biz["total_amount"])
            assert yuan(minor) == biz["total_amount"]
            trade = self.trades.setdefault(
                biz["out_trade_no"], Trade(biz["out_trade_no"], minor, "CNY", params["notify_url"])
            )
            return self._answer(
                api,
                {
                    "code": "10000",
                    "msg": "Success",
                    "out_trade_no": trade.out_trade_no,
                    "qr_code": f"https://qr.alipay.com/{trade.txn_id}",
                },
            )
        found = self.trades.get(biz.get("out_trade_no", ""))
        if found is None:
            return self._answer(
                api, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
            )
        if api == "alipay.trade.query":
            return self._answer(
                api,
                {
                    "code": "10000",
                    "msg": "Success",
                    "out_trade_no": found.out_trade_no,
                    "trade_no": f"2026{found.txn_id}",
                    "trade_status": "TRADE_SUCCESS" if found.paid else "WAIT_BUYER_PAY",
                    "total_amount": yuan(found.amount_minor),
                },
            )
        if api == "alipay.trade.refund":
            minor = fen(biz["refund_amount"])
            found.refunds.setdefault(biz["out_request_no"], minor)
            return self._answer(
                api,
                {
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": f"2026{found.txn_id}",
                    "out_trade_no": found.out_trade_no,
                    "fund_change": "Y",
                    "refund_fee": biz["refund_amount"],
                },
            )
        return self._answer(api, {"code": "40004", "sub_code": "ACQ.UNKNOWN_METHOD"})

    def notification(self, trade: Trade, **over: Any) -> tuple[dict[str, str], bytes]:
        form = {
            "notify_time": self.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.APP_ID,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": f"2026{trade.txn_id}",
            "out_trade_no": trade.out_trade_no,
            "trade_status": "TRADE_SUCCESS",
            "total_amount": yuan(trade.amount_minor),
            "receipt_amount": yuan(trade.amount_minor),
            "gmt_payment": self.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        }
        form.update({k: str(v) for k, v in over.items() if k != "sign"})
        form["sign"] = over.get("sign") or rsa_sign(self.alipay_private, signing_string(form))
        body = httpx.QueryParams(form).__str__().encode()
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body

    def tamper(self, headers: dict[str, str], body: bytes, **changes: str) -> bytes:
        """The same signed form with fields changed (the sign kept)."""
        form = dict(parse_qsl(body.decode()))
        form.update(changes)
        return str(httpx.QueryParams(form)).encode()


class FakeStripe(FakeProvider):
    SECRET = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
    WEBHOOK_SECRET = "whsec_test_" + "x" * 24

    def settings(self) -> tuple[str, dict[str, Any]]:
        return self.url, {
            "secret_key": self.SECRET,
            "webhook_secret": self.WEBHOOK_SECRET,
            "publishable_key": "pk_test_TYooMQauvdEDq54NiTphI7jx",
            "timeout_seconds": 2,
        }

    def __init__(self, now: Callable[[], datetime], sender: Sender = http_sender) -> None:
        super().__init__(now, sender)
        self.notify_url = ""  # set by the test: Stripe's webhook endpoint is set in its console
        self.intents: dict[str, Trade] = {}
        self.idempotent: dict[str, bytes] = {}

    def _json(self, status: int, doc: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        return status, json.dumps(doc).encode(), {"Content-Type": "application/json"}

    def _intent(self, trade: Trade) -> dict[str, Any]:
        return {
            "id": f"pi_{trade.txn_id}",
            "object": "payment_intent",
            "amount": trade.amount_minor,
            "amount_received": trade.amount_minor if trade.paid else 0,
            "currency": trade.currency.lower(),
            "client_secret": f"pi_{trade.txn_id}_secret_{trade.txn_id[:4]}",
            "status": "succeeded" if trade.paid else "requires_payment_method",
            "metadata": {"out_trade_no": trade.out_trade_no},
        }

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        if headers.get("Authorization") != f"Bearer {self.SECRET}":
            self.refused_auth += 1
            return self._json(401, {"error": {"type": "invalid_request_error"}})
        key = headers.get("Idempotency-Key")
        if key and key in self.idempotent:
            return 200, self.idempotent[key], {"Content-Type": "application/json"}
        form = dict(parse_qsl(body.decode()))
        if method == "POST" and path == "/v1/payment_intents":
            trade = Trade(
                form["metadata[out_trade_no]"],
                int(form["amount"]),
                form["currency"].upper(),
                self.notify_url,
            )
            self.trades[trade.out_trade_no] = trade
            self.intents[f"pi_{trade.txn_id}"] = trade
            answer = self._json(200, self._intent(trade))
        elif method == "GET" and path.startswith("/v1/payment_intents/"):
            found = self.intents.get(path.rsplit("/", 1)[1])
            if found is None:
                return self._json(404, {"error": {"code": "resource_missing"}})
            return self._json(200, self._intent(found))
        elif method == "POST" and path == "/v1/refunds":
            trade = self.intents[form["payment_intent"]]
            trade.refunds.setdefault(form["metadata[out_refund_no]"], int(form["amount"]))
            answer = self._json(
                200,
                {
                    "id": f"re_{trade.txn_id}",
                    "object": "refund",
                    "amount": int(form["amount"]),
                    "payment_intent": form["payment_intent"],
                    "status": "succeeded",
                },
            )
        else:
            return self._json(404, {"error": {"code": "resource_missing"}})
        if key:
            self.idempotent[key] = answer[1]
        return answer

    def notification(self, trade: Trade, **over: Any) -> tuple[dict[str, str], bytes]:
        intent = self._intent(trade)
        intent.update(over)
        body = json.dumps(
            {
                "id": f"evt_{secrets.token_hex(8)}",
                "object": "event",
                "type": "payment_intent.succeeded",
                "created": int(self.now().timestamp()),
                "data": {"object": intent},
            }
        ).encode()
        stamp = int(self.now().timestamp())
        return {
            "Content-Type": "application/json",
            "Stripe-Signature": signature_header(self.WEBHOOK_SECRET, body, stamp),
        }, body
