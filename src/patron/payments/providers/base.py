"""The one interface every payment provider implements, and the shapes it exchanges.

A provider is a plugin, like a message channel (ADR 1311): it knows one provider's documented
HTTP API and its notification signatures, and nothing of orders, the ledger or the database.
The service hands it the order's snapshot (:class:`PayRequest`) and the merchant's settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

TradeState = Literal["paid", "unpaid", "closed", "refunded"]
RefundState = Literal["done", "processing"]


@dataclass(frozen=True)
class ProviderSettings:
    """A merchant's settings for one provider. ``repr`` never shows the secrets."""

    base_url: str | None
    values: dict[str, Any] = field(repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def need(self, key: str) -> Any:
        value = self.values.get(key)
        if value in (None, ""):
            raise ProviderMisconfigured(f"payment setting '{key}' is missing")
        return value


@dataclass(frozen=True)
class PayRequest:
    """What a provider needs to know about one payment (no ORM objects cross this line)."""

    merchant_id: int
    out_trade_no: str
    amount_minor: int
    currency: str
    description: str
    notify_url: str
    expires_at: datetime
    # The provider's own id, once it gave one (Stripe's PaymentIntent id).
    provider_txn_id: str | None = None


@dataclass(frozen=True)
class Created:
    """The provider's answer to a new payment: what the member's device shows to pay."""

    provider_txn_id: str | None
    pay_data: dict[str, Any]


@dataclass(frozen=True)
class TradeStatus:
    """A payment's state, from a verified notification or a query."""

    out_trade_no: str
    state: TradeState
    amount_minor: int | None = None
    currency: str | None = None
    provider_txn_id: str | None = None


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    provider_txn_id: str | None
    refund_minor: int
    total_minor: int
    currency: str


@dataclass(frozen=True)
class RefundResult:
    state: RefundState
    refund_id: str | None = None


@dataclass(frozen=True)
class NotifyRequest:
    """A provider notification as received: enough to verify its signature and parse it."""

    headers: dict[str, str]  # lower-case names
    body: bytes
    form: dict[str, str] = field(default_factory=dict)


class ProviderMisconfigured(Exception):
    """The merchant's settings for a provider are incomplete."""


class NotificationRejected(Exception):
    """A notification whose signature, timestamp or account does not verify."""


class ProviderUnavailable(Exception):
    """No answer, or no usable answer, from the provider (timeout, 5xx, bad signature)."""


class ProviderRefused(Exception):
    """The provider answered and refused (a 4xx with its error code)."""


@dataclass(frozen=True)
class NotifyAnswer:
    """What the provider expects back: a body and a media type."""

    body: bytes
    media_type: str
    status: int = 200


@runtime_checkable
class PaymentProvider(Protocol):
    """One payment provider. Implementations are registered under the
    ``patron.payment_providers`` entry point group (see :mod:`patron.payments.providers`)."""

    name: str
    # Currencies the provider takes (None: any the merchant keeps).
    currencies: frozenset[str] | None

    def create(self, pay: PayRequest, settings: ProviderSettings) -> Created:
        """Start a payment (raise :class:`ProviderUnavailable` / :class:`ProviderRefused`)."""
        ...

    def query(self, pay: PayRequest, settings: ProviderSettings) -> TradeStatus:
        """Ask the provider where a payment stands (when no notification came in time)."""
        ...

    def parse_notification(
        self, request: NotifyRequest, settings: ProviderSettings, now: datetime
    ) -> TradeStatus:
        """Verify (raise :class:`NotificationRejected`) and parse a payment notification."""
        ...

    def refund(self, refund: RefundRequest, settings: ProviderSettings) -> RefundResult:
        """Refund part or all of a paid payment (the same ``out_refund_no`` is the same
        refund at the provider, so a retry never refunds twice)."""
        ...

    def acknowledge(self, ok: bool) -> NotifyAnswer:
        """The answer the provider expects to a notification (handled, or to retry)."""
        ...
