"""The row shapes every import format parses into, and the bulk writer consumes.

A format reader (Shopify, generic) turns CSV records into these plain dataclasses; it normalises
phones, emails, money and times so that :mod:`patron.imports.bulk` only resolves and writes.
``line`` is the physical CSV line where the record starts (1 = the header), so a reject can
point the merchant at the exact line in their spreadsheet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

KEEP_REJECTS = 1000  # in memory for the API answer; every reject also goes to the report file


@dataclass(slots=True)
class MemberRow:
    """One customer / member."""

    line: int
    external_id: str | None
    namespace: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    gender: str | None
    birthday: date | None
    address: dict[str, str] | None
    locale: str | None
    tags: list[str]
    registered_at: datetime | None
    created_at: datetime | None
    consents: dict[str, bool]  # channel ("email", "sms", ...) -> granted
    note: str | None
    source: str


@dataclass(slots=True)
class OrderLineRow:
    sku: str | None
    name: str
    category: str | None
    quantity: int
    unit_price_minor: int
    discount_minor: int

    @property
    def total_minor(self) -> int:
        """What the customer paid for the line: quantity × unit price − line discount."""
        return self.quantity * self.unit_price_minor - self.discount_minor


@dataclass(slots=True)
class RefundRow:
    """An order-level refund (amount only; imports carry no per-line refund detail)."""

    external_id: str
    refunded_at: datetime
    amount_minor: int
    reason: str | None


@dataclass(slots=True)
class OrderRow:
    """One order with its lines and refunds. ``namespace`` scopes ``member_external_id``."""

    line: int
    external_id: str
    member_external_id: str | None
    member_email: str | None
    member_phone: str | None
    store_code: str | None
    channel: str
    placed_at: datetime
    currency: str
    status: str  # completed | cancelled (refund status is derived from ``refunds``)
    order_discount_minor: int
    lines: list[OrderLineRow]
    refunds: list[RefundRow]
    source: str
    namespace: str = "import"
    member_first_name: str | None = None
    member_last_name: str | None = None

    @property
    def subtotal_minor(self) -> int:
        return sum(line.total_minor for line in self.lines)

    @property
    def total_minor(self) -> int:
        """Subtotal − order discount; the writer rejects an order where this is negative."""
        return self.subtotal_minor - self.order_discount_minor

    @property
    def refunded_minor(self) -> int:
        return sum(r.amount_minor for r in self.refunds)


@dataclass(slots=True)
class Reject:
    """A row the import refused, with the physical CSV line and a reason a person can act on."""

    line: int
    reason: str
    record: str = ""


@dataclass(slots=True)
class ImportResult:
    """What an import did. ``read`` counts records (members or orders), not CSV lines."""

    kind: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    members_created: int = 0
    lines_written: int = 0
    rejects: list[Reject] = field(default_factory=list)
    on_reject: Callable[[Reject], None] | None = None

    def reject(self, line: int, reason: str, record: str = "") -> None:
        """Count a refused row; the first KEEP_REJECTS stay in memory, all go to ``on_reject``."""
        self.rejected += 1
        item = Reject(line, reason, record)
        if len(self.rejects) < KEEP_REJECTS:
            self.rejects.append(item)
        if self.on_reject is not None:
            self.on_reject(item)

    def counts(self) -> dict[str, int]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "members_created": self.members_created,
            "lines_written": self.lines_written,
        }
