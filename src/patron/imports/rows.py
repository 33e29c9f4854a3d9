"""The row shapes every import format parses into, and the bulk writer consumes.

A format reader (Shopify, generic) turns CSV records into these plain dataclasses; it normalises
phones, emails, money and times so that :mod:`patron.imports.bulk` only resolves and writes.
``line`` is the physical CSV line where the record starts (1 = the header), so a reject can
point the merchant at the exact line in their spreadsheet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

KEEP_REJECTS = 1000  # in memory for the API answer; every reject also goes to the report file

SourceRows = list[tuple[int, list[str]]]  # (physical line, the cells as the file has them)


class Reason(str):
    """Why a row (or a file) is refused: the English text, which the CLI and the API show, and
    the catalogue message with its values, which the dashboard shows in the reader's language.

    ``template`` is a msgid of the translation catalogue with ``%(name)s`` placeholders; a value
    that is itself a :class:`Reason` is translated too (``order %(order)s: %(reason)s``).
    """

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Reason:
        made = super().__new__(cls, template % params if params else template)
        made.template = template
        made.params = params
        return made

    def doc(self) -> dict[str, Any]:
        """The reason as JSON (stored with a dashboard import's rejects)."""
        return {
            "template": self.template,
            "params": {k: v.doc() if isinstance(v, Reason) else v for k, v in self.params.items()},
        }


def reason_text(doc: Mapping[str, Any], gettext: Callable[[str], str]) -> str:
    """A stored reason (:meth:`Reason.doc`) in the language of ``gettext``."""
    params = {
        k: reason_text(v, gettext) if isinstance(v, Mapping) else v
        for k, v in doc.get("params", {}).items()
    }
    text = gettext(doc["template"])
    return text % params if params else text


def as_reason(value: str) -> Reason:
    """A reason as is, or a plain text (a message from elsewhere) carried untranslated."""
    return value if isinstance(value, Reason) else Reason("%(message)s", message=value)


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
    raw: SourceRows | None = None  # the record as read, for the rejects report


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
    raw: SourceRows | None = None  # the order's records as read, for the rejects report

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
    """A row the import refused, with the physical CSV line, a reason a person can act on and
    the file's own records (all lines of a refused order), so the report can be fixed and
    imported again."""

    line: int
    reason: Reason
    rows: SourceRows = field(default_factory=list)


@dataclass(slots=True)
class ImportResult:
    """What an import did. ``read`` counts records (members or orders), not CSV lines.

    ``skip_through``: an import resumed after a crash has already counted and reported every
    record up to this line (committed with its batch); those are passed over silently.
    ``last_line`` is the furthest line counted so far: the checkpoint of the next resume.
    """

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
    skip_through: int = 0
    last_line: int = 0
    header: list[str] = field(default_factory=list)

    def reject(self, line: int, reason: str, rows: SourceRows | None = None) -> None:
        """Count a refused row; the first KEEP_REJECTS stay in memory, all go to ``on_reject``."""
        if line <= self.skip_through:
            return
        self.rejected += 1
        self.last_line = max(self.last_line, line)
        item = Reject(line, as_reason(reason), rows or [])
        if len(self.rejects) < KEEP_REJECTS:
            self.rejects.append(item)
        if self.on_reject is not None:
            self.on_reject(item)

    def refuse(self, line: int, reason: str, rows: SourceRows | None = None) -> None:
        """A record the reader refused before it became a row: read and rejected."""
        if line <= self.skip_through:
            return
        self.read += 1
        self.reject(line, reason, rows)

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
