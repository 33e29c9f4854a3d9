"""Stripe: PaymentIntents and webhooks.

- create: ``POST /v1/payment_intents`` (form-encoded; ``amount`` in the currency's minor unit,
  the ``Idempotency-Key`` header is our order) → ``client_secret`` for Stripe.js;
- webhooks carry ``Stripe-Signature: t=…,v1=…``: HMAC-SHA256 under the endpoint's signing
  secret over ``t.payload``, within a tolerance;
- query: ``GET /v1/payment_intents/{id}``; refund: ``POST /v1/refunds``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from patron.payments.providers.base import (
    Created,
    NotificationRejected,
    NotifyAnswer,
    NotifyRequest,
    PayRequest,
    ProviderSettings,
    ProviderUnavailable,
    RefundRequest,
    RefundResult,
    TradeState,
    TradeStatus,
)
from patron.payments.providers.common import NOTIFY_TOLERANCE_SECONDS, call, refused

DEFAULT_BASE_URL = "https://api.stripe.com"
STATES: dict[str, TradeState] = {"succeeded": "paid", "canceled": "closed"}
PAID_EVENTS = {"payment_intent.succeeded"}


def signature_header(secret: str, payload: bytes, timestamp: int) -> str:
    """A ``Stripe-Signature`` value (tests sign with it, as Stripe does)."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class StripeProvider:
    name = "stripe"
    currencies: frozenset[str] | None = None

    def _call(
        self,
        settings: ProviderSettings,
        method: str,
        path: str,
        data: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {settings.need('secret_key')}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        base = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        return call(settings, method, f"{base}{path}", data=data, headers=headers)

    def _status(self, out_trade_no: str, intent: dict[str, Any]) -> TradeStatus:
        amount = intent.get("amount_received") or intent.get("amount")
        return TradeStatus(
            out_trade_no=out_trade_no,
            state=STATES.get(str(intent.get("status")), "unpaid"),
            amount_minor=int(amount) if isinstance(amount, int) else None,
            currency=str(intent.get("currency", "")).upper() or None,
            provider_txn_id=intent.get("id"),
        )

    def create(self, pay: PayRequest, settings: ProviderSettings) -> Created:
        data = {
            "amount": str(pay.amount_minor),
            "currency": pay.currency.lower(),
            "metadata[out_trade_no]": pay.out_trade_no,
            "metadata[merchant_id]": str(pay.merchant_id),
            "automatic_payment_methods[enabled]": "true",
        }
        response = self._call(settings, "POST", "/v1/payment_intents", data, pay.out_trade_no)
        if not response.is_success:
            raise refused(response)
        intent = response.json()
        if not isinstance(intent.get("id"), str) or not intent.get("client_secret"):
            raise ProviderUnavailable("no PaymentIntent in the answer")
        pay_data = {"client_secret": intent["client_secret"]}
        if settings.get("publishable_key"):
            pay_data["publishable_key"] = settings.get("publishable_key")
        return Created(intent["id"], pay_data)

    def query(self, pay: PayRequest, settings: ProviderSettings) -> TradeStatus:
        intent_id = pay.provider_txn_id
        if not intent_id:
            # The create's answer was lost: the same create again, under the same
            # Idempotency-Key, gives back the PaymentIntent Stripe made (or makes it now).
            intent_id = self.create(pay, settings).provider_txn_id
        response = self._call(settings, "GET", f"/v1/payment_intents/{intent_id}")
        if not response.is_success:
            raise refused(response)
        intent = response.json()
        if (intent.get("metadata") or {}).get("out_trade_no") != pay.out_trade_no:
            raise ProviderUnavailable("the PaymentIntent is another payment's")
        return self._status(pay.out_trade_no, intent)

    def parse_notification(
        self, request: NotifyRequest, settings: ProviderSettings, now: datetime
    ) -> TradeStatus:
        header = request.headers.get("stripe-signature", "")
        parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
        stamps = [v for k, v in parts if k == "t"]
        given = [v for k, v in parts if k == "v1"]
        if len(stamps) != 1 or not stamps[0].isdigit() or not given:
            raise NotificationRejected("no Stripe-Signature")
        timestamp = int(stamps[0])
        expected = signature_header(
            str(settings.need("webhook_secret")), request.body, timestamp
        ).split("v1=", 1)[1]
        if not any(hmac.compare_digest(expected, v) for v in given):
            raise NotificationRejected("Stripe-Signature does not verify")
        if abs(now.timestamp() - timestamp) > NOTIFY_TOLERANCE_SECONDS:
            raise NotificationRejected("the notification is too old (a replay?)")
        try:
            event = json.loads(request.body)
            intent = event["data"]["object"]
            out_trade_no = str((intent.get("metadata") or {})["out_trade_no"])
        except (ValueError, KeyError, TypeError) as exc:
            raise NotificationRejected("not a PaymentIntent event") from exc
        status = self._status(out_trade_no, intent)
        if event.get("type") not in PAID_EVENTS and status.state == "paid":
            return TradeStatus(out_trade_no, "unpaid")  # only the succeeded event credits
        return status

    def refund(self, refund: RefundRequest, settings: ProviderSettings) -> RefundResult:
        data = {
            "payment_intent": str(refund.provider_txn_id),
            "amount": str(refund.refund_minor),
            "metadata[out_refund_no]": refund.out_refund_no,
        }
        response = self._call(settings, "POST", "/v1/refunds", data, refund.out_refund_no)
        if not response.is_success:
            raise refused(response)
        doc = response.json()
        if doc.get("status") in ("failed", "canceled"):
            raise refused(response)
        return RefundResult(
            "done" if doc.get("status") == "succeeded" else "processing", doc.get("id")
        )

    def acknowledge(self, ok: bool) -> NotifyAnswer:
        return NotifyAnswer(b"", "application/json", 200 if ok else 400)
