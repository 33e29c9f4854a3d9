"""Alipay open API (``gateway.do``), RSA2, face-to-face precreate (a QR code to scan).

- every call is a form POST of the common parameters and ``biz_content``, signed RSA2
  (SHA256withRSA) over the sorted ``key=value&…`` string with the app's private key;
- create: ``alipay.trade.precreate`` → ``qr_code``; ``total_amount`` is yuan as ``"12.34"``;
- answers are signed over the raw JSON of ``<method>_response``, with Alipay's public key;
- notifications are form posts signed the same way (``sign`` and ``sign_type`` left out);
- query: ``alipay.trade.query``; refund: ``alipay.trade.refund`` (``out_request_no``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from patron.payments.providers.base import (
    Created,
    NotificationRejected,
    NotifyAnswer,
    NotifyRequest,
    PayRequest,
    ProviderRefused,
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
    fen,
    refused,
    rsa_sign,
    rsa_verify,
    yuan,
)

DEFAULT_BASE_URL = "https://openapi.alipay.com/gateway.do"
CHINA = timezone(timedelta(hours=8))  # Alipay's timestamps are Beijing time
STATES: dict[str, TradeState] = {
    "TRADE_SUCCESS": "paid",
    "TRADE_FINISHED": "paid",
    "WAIT_BUYER_PAY": "unpaid",
    "TRADE_CLOSED": "closed",
}


def signing_string(params: dict[str, str]) -> bytes:
    """The sorted ``k=v&…`` of the non-empty parameters, ``sign`` and ``sign_type`` left out."""
    kept = sorted((k, v) for k, v in params.items() if k not in ("sign", "sign_type") and v != "")
    return "&".join(f"{k}={v}" for k, v in kept).encode()


def response_node(text: str, method: str) -> str | None:
    """The raw JSON of ``<method>_response`` in an answer, exactly as signed."""
    name = method.replace(".", "_") + "_response"
    found = re.search(r'"' + re.escape(name) + r'"\s*:\s*(\{.*?\})\s*,\s*"sign"', text, re.S)
    return found.group(1) if found else None


class AlipayProvider:
    name = "alipay"
    currencies: frozenset[str] | None = frozenset({"CNY"})

    def _call(
        self, settings: ProviderSettings, method: str, biz: dict[str, Any], **extra: str
    ) -> Any:
        params = {
            "app_id": str(settings.need("app_id")),
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, separators=(",", ":"), ensure_ascii=False),
            **extra,
        }
        params["sign"] = rsa_sign(settings.need("private_key"), signing_string(params))
        url = settings.base_url or DEFAULT_BASE_URL
        response = call(settings, "POST", url, data=params)
        if not response.is_success:
            raise refused(response)
        node = response_node(response.text, method)
        try:
            sign = response.json().get("sign", "")
        except ValueError as exc:
            raise ProviderUnavailable("the answer is not JSON") from exc
        if node is None or not rsa_verify(
            settings.need("alipay_public_key"), node.encode(), str(sign)
        ):
            raise ProviderUnavailable("the answer's sign does not verify")
        return json.loads(node)

    def create(self, pay: PayRequest, settings: ProviderSettings) -> Created:
        biz = {
            "out_trade_no": pay.out_trade_no,
            "total_amount": yuan(pay.amount_minor),
            "subject": pay.description[:256],
            "time_expire": pay.expires_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        }
        doc = self._call(settings, "alipay.trade.precreate", biz, notify_url=pay.notify_url)
        if doc.get("code") != "10000" or not isinstance(doc.get("qr_code"), str):
            raise ProviderRefused(f"{doc.get('code')}: {doc.get('sub_code') or doc.get('msg')}")
        return Created(None, {"qr": doc["qr_code"]})

    def query(self, pay: PayRequest, settings: ProviderSettings) -> TradeStatus:
        doc = self._call(settings, "alipay.trade.query", {"out_trade_no": pay.out_trade_no})
        if doc.get("code") == "40004" and doc.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return TradeStatus(pay.out_trade_no, "unpaid")
        if doc.get("code") != "10000":
            raise ProviderUnavailable(f"{doc.get('code')}: {doc.get('sub_code')}")
        return TradeStatus(
            out_trade_no=str(doc.get("out_trade_no", "")),
            state=STATES.get(str(doc.get("trade_status")), "unpaid"),
            amount_minor=fen(str(doc.get("total_amount", "0"))),
            currency="CNY",
            provider_txn_id=doc.get("trade_no"),
        )

    def parse_notification(
        self, request: NotifyRequest, settings: ProviderSettings, now: datetime
    ) -> TradeStatus:
        form = request.form
        if not rsa_verify(
            settings.need("alipay_public_key"), signing_string(form), form.get("sign", "")
        ):
            raise NotificationRejected("sign does not verify")
        if form.get("app_id") != str(settings.need("app_id")):
            raise NotificationRejected("another app's payment")
        try:
            sent = datetime.strptime(form.get("notify_time", ""), "%Y-%m-%d %H:%M:%S")
            amount = fen(form.get("total_amount", ""))
        except ValueError as exc:
            raise NotificationRejected("no notify_time or total_amount") from exc
        sent_at = sent.replace(tzinfo=CHINA).astimezone(UTC)
        # Alipay retries a notification it got no "success" for over 25 hours, each retry
        # freshly dated: an older one is a replay.
        if abs((now - sent_at).total_seconds()) > NOTIFY_TOLERANCE_SECONDS:
            raise NotificationRejected("the notification is too old (a replay?)")
        return TradeStatus(
            out_trade_no=form.get("out_trade_no", ""),
            state=STATES.get(form.get("trade_status", ""), "unpaid"),
            amount_minor=amount,
            currency="CNY",
            provider_txn_id=form.get("trade_no"),
        )

    def refund(self, refund: RefundRequest, settings: ProviderSettings) -> RefundResult:
        biz = {
            "out_trade_no": refund.out_trade_no,
            "refund_amount": yuan(refund.refund_minor),
            "out_request_no": refund.out_refund_no,
            "refund_reason": "stored value refund",
        }
        doc = self._call(settings, "alipay.trade.refund", biz)
        if doc.get("code") != "10000":
            raise ProviderRefused(f"{doc.get('code')}: {doc.get('sub_code') or doc.get('msg')}")
        done = doc.get("fund_change") == "Y"
        return RefundResult("done" if done else "processing", doc.get("trade_no"))

    def acknowledge(self, ok: bool) -> NotifyAnswer:
        # Alipay wants the bare word "success"; anything else and it sends again later.
        return NotifyAnswer(b"success" if ok else b"fail", "text/plain", 200)
