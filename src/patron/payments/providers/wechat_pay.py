"""WeChat Pay, API v3, Native payments (a QR code the member scans).

- create: ``POST /v3/pay/transactions/native`` → ``code_url``; ``amount.total`` in fen.
- requests are signed ``WECHATPAY2-SHA256-RSA2048`` with the merchant's API private key over
  ``METHOD\\nPATH\\ntimestamp\\nnonce\\nbody\\n``;
- notifications and answers carry ``Wechatpay-Signature``: RSA-SHA256 over
  ``timestamp\\nnonce\\nbody\\n`` with the WeChat Pay platform public key (or certificate);
  the notification's ``resource`` is AES-256-GCM under the APIv3 key;
- query: ``GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…``;
- refund: ``POST /v3/refund/domestic/refunds``.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from patron.payments.providers.base import (
    Created,
    NotificationRejected,
    NotifyAnswer,
    NotifyRequest,
    PayRequest,
    ProviderMisconfigured,
    ProviderSettings,
    ProviderUnavailable,
    RefundRequest,
    RefundResult,
    TradeState,
    TradeStatus,
)
from patron.payments.providers.common import (
    NOTIFY_TOLERANCE_SECONDS,
    call,
    refused,
    rsa_sign,
    rsa_verify,
)

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
STATES: dict[str, TradeState] = {
    "SUCCESS": "paid",
    "REFUND": "refunded",
    "NOTPAY": "unpaid",
    "USERPAYING": "unpaid",
    "CLOSED": "closed",
    "REVOKED": "closed",
    "PAYERROR": "closed",
}


class WeChatPayProvider:
    name = "wechat_pay"
    currencies: frozenset[str] | None = frozenset({"CNY"})

    def _base(self, settings: ProviderSettings) -> str:
        return (settings.base_url or DEFAULT_BASE_URL).rstrip("/")

    def _request(
        self, settings: ProviderSettings, method: str, path: str, body: dict[str, Any] | None
    ) -> httpx.Response:
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False) if body else ""
        timestamp = str(int(datetime.now().timestamp()))
        nonce = secrets.token_hex(16)
        message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{payload}\n".encode()
        signature = rsa_sign(settings.need("private_key"), message)
        auth = (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{settings.need("mchid")}",'
            f'nonce_str="{nonce}",signature="{signature}",timestamp="{timestamp}",'
            f'serial_no="{settings.need("serial_no")}"'
        )
        headers = {
            "Authorization": auth,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        response = call(
            settings,
            method,
            f"{self._base(settings)}{path}",
            content=payload.encode() or None,
            headers=headers,
        )
        # An answer that does not verify is no answer: never act on an unsigned "paid".
        if response.is_success and not self._signed(response.headers, response.content, settings):
            raise ProviderUnavailable("the answer's Wechatpay-Signature does not verify")
        return response

    def _signed(self, headers: Any, body: bytes, settings: ProviderSettings) -> bool:
        timestamp = headers.get("wechatpay-timestamp", "")
        nonce = headers.get("wechatpay-nonce", "")
        signature = headers.get("wechatpay-signature", "")
        if not (timestamp and nonce and signature):
            return False
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        return rsa_verify(settings.need("platform_public_key"), message, signature)

    def create(self, pay: PayRequest, settings: ProviderSettings) -> Created:
        body = {
            "appid": settings.need("appid"),
            "mchid": settings.need("mchid"),
            "description": pay.description[:127],
            "out_trade_no": pay.out_trade_no,
            "time_expire": pay.expires_at.isoformat(timespec="seconds"),
            "notify_url": pay.notify_url,
            "amount": {"total": pay.amount_minor, "currency": pay.currency},
        }
        response = self._request(settings, "POST", "/v3/pay/transactions/native", body)
        if not response.is_success:
            raise refused(response)
        code_url = response.json().get("code_url")
        if not isinstance(code_url, str):
            raise ProviderUnavailable("no code_url in the answer")
        return Created(None, {"qr": code_url})

    def query(self, pay: PayRequest, settings: ProviderSettings) -> TradeStatus:
        mchid = quote(str(settings.need("mchid")))
        path = f"/v3/pay/transactions/out-trade-no/{quote(pay.out_trade_no)}?mchid={mchid}"
        response = self._request(settings, "GET", path, None)
        if response.status_code == 404:
            return TradeStatus(pay.out_trade_no, "unpaid")
        if not response.is_success:
            raise refused(response)
        return self._status(response.json(), settings)

    def _status(self, doc: dict[str, Any], settings: ProviderSettings) -> TradeStatus:
        if str(doc.get("mchid")) != str(settings.need("mchid")):
            raise NotificationRejected("another merchant account's payment")
        amount = doc.get("amount") or {}
        total = amount.get("total")
        return TradeStatus(
            out_trade_no=str(doc.get("out_trade_no", "")),
            state=STATES.get(str(doc.get("trade_state")), "unpaid"),
            amount_minor=int(total) if isinstance(total, int) else None,
            currency=amount.get("currency"),
            provider_txn_id=doc.get("transaction_id"),
        )

    def parse_notification(
        self, request: NotifyRequest, settings: ProviderSettings, now: datetime
    ) -> TradeStatus:
        if not self._signed(request.headers, request.body, settings):
            raise NotificationRejected("Wechatpay-Signature does not verify")
        try:
            sent_at = int(request.headers.get("wechatpay-timestamp", ""))
        except ValueError as exc:
            raise NotificationRejected("no Wechatpay-Timestamp") from exc
        if abs(now.timestamp() - sent_at) > NOTIFY_TOLERANCE_SECONDS:
            raise NotificationRejected("the notification is too old (a replay?)")
        try:
            doc = json.loads(request.body)
            resource = doc["resource"]
            key = str(settings.need("api_v3_key")).encode()
            plain = AESGCM(key).decrypt(
                str(resource["nonce"]).encode(),
                base64.b64decode(resource["ciphertext"]),
                str(resource.get("associated_data", "")).encode(),
            )
            transaction = json.loads(plain)
        except (ValueError, KeyError, TypeError, InvalidTag) as exc:
            raise NotificationRejected("the resource does not decrypt") from exc
        except ProviderMisconfigured:
            raise
        if str(transaction.get("appid")) != str(settings.need("appid")):
            raise NotificationRejected("another app's payment")
        return self._status(transaction, settings)

    def refund(self, refund: RefundRequest, settings: ProviderSettings) -> RefundResult:
        body = {
            "out_trade_no": refund.out_trade_no,
            "out_refund_no": refund.out_refund_no,
            "reason": "stored value refund",
            "amount": {
                "refund": refund.refund_minor,
                "total": refund.total_minor,
                "currency": refund.currency,
            },
        }
        response = self._request(settings, "POST", "/v3/refund/domestic/refunds", body)
        if not response.is_success:
            raise refused(response)
        doc = response.json()
        status = str(doc.get("status"))
        if status in ("CLOSED", "ABNORMAL"):
            raise refused(response)
        return RefundResult("done" if status == "SUCCESS" else "processing", doc.get("refund_id"))

    def acknowledge(self, ok: bool) -> NotifyAnswer:
        if ok:
            return NotifyAnswer(b"", "application/json", 204)
        body = json.dumps({"code": "FAIL", "message": "refused"}).encode()
        return NotifyAnswer(body, "application/json", 400)


def split_path(url: str) -> str:
    """The path and query WeChat Pay signs (tests use it to check a request)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
