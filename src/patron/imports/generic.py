"""Patron's generic CSV format (docs/import-formats.md): members.csv and orders.csv.

orders.csv has one row per order line; the rows of an order are consecutive and its order-level
columns are read from its first row. A bad value anywhere in an order refuses the whole order
(reported at the line of the bad value): half an order would be a wrong order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter

from patron.core.errors import PatronError
from patron.imports.context import ImportContext
from patron.imports.reading import (
    Record,
    RowError,
    day,
    email,
    flag,
    integer,
    money,
    phone,
    text,
    timestamp,
)
from patron.imports.rows import (
    ImportResult,
    MemberRow,
    OrderLineRow,
    OrderRow,
    Reason,
    RefundRow,
    SourceRows,
)
from patron.members.normalize import normalize_gender, split_tags

MEMBER_COLUMNS = (
    "external_id",
    "id_namespace",
    "first_name",
    "last_name",
    "email",
    "phone",
    "gender",
    "birthday",
    "locale",
    "tags",
    "company",
    "address1",
    "address2",
    "city",
    "province",
    "country",
    "zip",
    "registered_at",
    "created_at",
    "accepts_email",
    "accepts_sms",
    "note",
)
MEMBER_REQUIRED = {"external_id", "email", "phone"}
ORDER_COLUMNS = (
    "order_id",
    "placed_at",
    "member_id",
    "member_id_namespace",
    "member_email",
    "member_phone",
    "store_code",
    "channel",
    "currency",
    "status",
    "order_discount",
    "refunded_amount",
    "refunded_at",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
    "line_discount",
)
ORDER_REQUIRED = {"order_id", "placed_at", "name", "quantity", "unit_price"}
ADDRESS_KEYS = ("company", "address1", "address2", "city", "province", "country", "zip")
STATUSES = {"completed", "cancelled"}
CHANNELS = {"store", "online"}


def _member(rec: Record, ctx: ImportContext) -> MemberRow:
    v = rec.values
    address = {k: val for k in ADDRESS_KEYS if (val := text(v.get(k)))}
    region = (address.get("country") or ctx.region).upper()
    consents: dict[str, bool] = {}
    for channel, column in (("email", "accepts_email"), ("sms", "accepts_sms")):
        granted = flag(v.get(column), column)
        if granted is not None:
            consents[channel] = granted
    gender = member_gender(text(v.get("gender")))
    tags = member_tags(v.get("tags"))
    # member_since is the same fact under the name a merchant would give it (ADR 0664)
    since_column = "registered_at" if text(v.get("registered_at")) else "member_since"
    return MemberRow(
        line=rec.line,
        external_id=text(v.get("external_id")),
        namespace=text(v.get("id_namespace")) or ctx.namespace,
        first_name=text(v.get("first_name")),
        last_name=text(v.get("last_name")),
        email=email(v.get("email")),
        phone=phone(v.get("phone"), region if len(region) == 2 else ctx.region),
        gender=gender,
        birthday=day(v.get("birthday"), "birthday"),
        address=address or None,
        locale=text(v.get("locale")),
        tags=tags,
        registered_at=timestamp(v.get(since_column), ctx.zone, since_column),
        created_at=timestamp(v.get("created_at"), ctx.zone, "created_at"),
        consents=consents,
        note=text(v.get("note")),
        source="import",
        raw=[(rec.line, rec.raw)],
    )


def member_gender(raw: str | None) -> str | None:
    """female / male / other / unknown (also f, m, 女, 男), or a refusal in merchant words."""
    try:
        return normalize_gender(raw)
    except PatronError:
        raise RowError(
            Reason("gender must be female, male, other or unknown, not %(value)s", value=repr(raw))
        ) from None


def member_tags(raw: str | None) -> list[str]:
    """Tags separated by commas or semicolons, or a refusal in merchant words."""
    try:
        return split_tags(raw)
    except PatronError:
        raise RowError(
            Reason(
                "tags %(value)s: each tag 1-80 characters, separated by commas or semicolons",
                value=repr(raw),
            )
        ) from None


def read_members(
    recs: Iterator[Record], ctx: ImportContext, result: ImportResult
) -> Iterator[MemberRow]:
    """Members from generic members.csv records; bad records go to ``result`` as rejects."""
    for rec in recs:
        try:
            yield _member(rec, ctx)
        except RowError as exc:
            result.refuse(rec.line, exc.reason, [(rec.line, rec.raw)])


# -- orders.csv: the hot path of a million-line import -----------------------------------------
#
# Each record is read as the csv module's list (no dict per line) through itemgetters, and the
# values files repeat endlessly (product names, SKUs, prices, quantities) are parsed once per
# distinct text: bounded caches, so memory stays flat whatever the file.

HEAD_COLUMNS = (
    "placed_at",
    "member_id",
    "member_id_namespace",
    "member_email",
    "member_phone",
    "store_code",
    "channel",
    "currency",
    "status",
    "order_discount",
    "refunded_amount",
    "refunded_at",
)
LINE_COLUMNS = ("sku", "name", "category", "quantity", "unit_price", "line_discount")
_CACHE_LIMIT = 20_000
_MISSING = object()


class _Values:
    """Parsers of repeated cell texts, each result kept per distinct text (up to a bound)."""

    def __init__(self, exponent: int) -> None:
        self.exponent = exponent
        self.texts: dict[str, str | None] = {}
        self.amounts: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def text(self, raw: str) -> str | None:
        found = self.texts.get(raw, _MISSING)
        if found is _MISSING:
            found = text(raw)
            if len(self.texts) < _CACHE_LIMIT:
                self.texts[raw] = found
        return found  # type: ignore[return-value]

    def money(self, raw: str, what: str) -> int:
        found = self.amounts.get(raw)
        if found is None:
            found = money(raw, self.exponent, what)
            if len(self.amounts) < _CACHE_LIMIT:
                self.amounts[raw] = found
        return found

    def integer(self, raw: str, what: str) -> int:
        found = self.counts.get(raw)
        if found is None:
            found = integer(raw, what)
            if len(self.counts) < _CACHE_LIMIT:
                self.counts[raw] = found
        return found


class _OrderParser:
    """Turns the cells of one orders.csv record into an order head or an order line."""

    def __init__(self, header: list[str], ctx: ImportContext) -> None:
        where = {name: i for i, name in enumerate(header)}  # a repeated column: the last wins
        absent = len(header)  # each record gets one "" appended: the value of absent columns
        self.head_cells = itemgetter(*[where.get(c, absent) for c in HEAD_COLUMNS])
        self.line_cells = itemgetter(*[where.get(c, absent) for c in LINE_COLUMNS])
        self.order_id = where["order_id"]
        self.ctx = ctx
        self.values = _Values(ctx.exponent)

    def head(self, cells: list[str], line: int, external_id: str) -> OrderRow:
        ctx, values = self.ctx, self.values
        (placed, member, namespace, mail, tel, store, channel, currency, status, discount,
         refunded_amount, refunded_at) = self.head_cells(cells)  # fmt: skip
        placed_at = timestamp(placed, ctx.zone, "placed_at")
        if placed_at is None:
            raise RowError(Reason("%(column)s is empty", column="placed_at"))
        status = (values.text(status) or "completed").lower()
        if status not in STATUSES:
            raise RowError(
                Reason("status must be completed or cancelled, not %(value)s", value=repr(status))
            )
        channel = (values.text(channel) or "").lower()
        if channel and channel not in CHANNELS:
            raise RowError(
                Reason("channel must be store or online, not %(value)s", value=repr(channel))
            )
        store_code = values.text(store)
        refunds: list[RefundRow] = []
        refunded = values.money(refunded_amount, "refunded_amount")
        if refunded:
            at = timestamp(refunded_at, ctx.zone, "refunded_at") or placed_at
            refunds.append(RefundRow(f"{external_id}:refund", at, refunded, None))
        return OrderRow(
            line=line,
            external_id=external_id,
            member_external_id=text(member),
            member_email=email(mail),
            member_phone=phone(tel, ctx.region),
            store_code=ctx.store_codes.get(store_code.lower(), store_code) if store_code else None,
            channel=channel or ("store" if store_code else "online"),
            placed_at=placed_at,
            currency=(values.text(currency) or ctx.currency).upper(),
            status=status,
            order_discount_minor=values.money(discount, "order_discount"),
            lines=[],
            refunds=refunds,
            source="import",
            namespace=values.text(namespace) or ctx.namespace,
        )

    def line(self, cells: list[str]) -> OrderLineRow:
        values = self.values
        sku, name, category, quantity, price, discount = self.line_cells(cells)
        name_text = values.text(name)
        if name_text is None:
            raise RowError(Reason("%(column)s is empty", column="name"))
        return OrderLineRow(
            values.text(sku),
            name_text,
            values.text(category),
            values.integer(quantity, "quantity"),
            values.money(price, "unit_price"),
            values.money(discount, "line_discount"),
        )


@dataclass(slots=True)
class _Group:
    """The order being read: its rows so far, or the first reason it is refused."""

    key: str  # the order id, trimmed
    written: str  # the order id as written, for messages
    order: OrderRow | None = None
    failed: tuple[int, str] | None = None
    raw: SourceRows = field(default_factory=list)

    def finish(self, result: ImportResult) -> OrderRow | None:
        if self.failed is not None:
            result.refuse(self.failed[0], order_reason(self.written, self.failed[1]), self.raw)
            return None
        if self.order is not None:
            self.order.raw = self.raw
        return self.order


def order_reason(order: str, reason: str) -> Reason:
    """A refusal of a whole order, naming it."""
    return Reason("order %(order)s: %(reason)s", order=order, reason=reason)


def read_orders(
    header: list[str],
    cells: Iterator[tuple[int, list[str]]],
    ctx: ImportContext,
    result: ImportResult,
) -> Iterator[OrderRow]:
    """Orders from generic orders.csv rows, one order per run of equal ``order_id``.

    A bad value anywhere refuses the whole order, reported at the line of the first bad value.
    """
    parser = _OrderParser(header, ctx)
    at = parser.order_id
    group: _Group | None = None
    for line, raw in cells:
        order_id = raw[at].strip()
        if not order_id:
            result.refuse(line, Reason("%(column)s is empty", column="order_id"), [(line, raw)])
            continue
        raw.append("")  # the value of absent columns (the report cuts records to the header)
        if group is None or order_id != group.key:
            if group is not None and (order := group.finish(result)) is not None:
                yield order
            group = _Group(order_id, raw[at])
            try:
                group.order = parser.head(raw, line, text(raw[at]) or "")
            except RowError as exc:
                group.failed = (line, exc.reason)
        group.raw.append((line, raw))
        if group.failed is None:
            try:
                group.order.lines.append(parser.line(raw))  # type: ignore[union-attr]
            except RowError as exc:
                group.failed = (line, exc.reason)
    if group is not None and (order := group.finish(result)) is not None:
        yield order
