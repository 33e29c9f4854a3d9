"""Patron's generic CSV format (docs/import-formats.md): members.csv and orders.csv.

orders.csv has one row per order line; the rows of an order are consecutive and its order-level
columns are read from its first row. A bad value anywhere in an order refuses the whole order
(reported at the line of the bad value): half an order would be a wrong order.
"""

from __future__ import annotations

from collections.abc import Iterator

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
from patron.imports.rows import ImportResult, MemberRow, OrderLineRow, OrderRow, RefundRow
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
    try:
        gender = normalize_gender(text(v.get("gender")))
        tags = split_tags(v.get("tags"))
    except PatronError as exc:
        raise RowError(exc.message) from None
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
        registered_at=timestamp(v.get("registered_at"), ctx.zone, "registered_at"),
        created_at=timestamp(v.get("created_at"), ctx.zone, "created_at"),
        consents=consents,
        note=text(v.get("note")),
        source="import",
    )


def read_members(
    recs: Iterator[Record], ctx: ImportContext, result: ImportResult
) -> Iterator[MemberRow]:
    """Members from generic members.csv records; bad records go to ``result`` as rejects."""
    for rec in recs:
        try:
            yield _member(rec, ctx)
        except RowError as exc:
            result.read += 1
            result.reject(rec.line, exc.reason, ",".join(rec.raw))


def _order_head(rec: Record, ctx: ImportContext) -> OrderRow:
    v = rec.values
    placed_at = timestamp(v["placed_at"], ctx.zone, "placed_at")
    if placed_at is None:
        raise RowError("placed_at is empty")
    status = (text(v.get("status")) or "completed").lower()
    if status not in STATUSES:
        raise RowError(f"status must be completed or cancelled, not {status!r}")
    channel = (text(v.get("channel")) or "").lower()
    if channel and channel not in CHANNELS:
        raise RowError(f"channel must be store or online, not {channel!r}")
    store = text(v.get("store_code"))
    external_id = text(v["order_id"]) or ""
    refunds: list[RefundRow] = []
    refunded = money(v.get("refunded_amount"), ctx.exponent, "refunded_amount")
    if refunded:
        at = timestamp(v.get("refunded_at"), ctx.zone, "refunded_at") or placed_at
        refunds.append(RefundRow(f"{external_id}:refund", at, refunded, None))
    return OrderRow(
        line=rec.line,
        external_id=external_id,
        member_external_id=text(v.get("member_id")),
        member_email=email(v.get("member_email")),
        member_phone=phone(v.get("member_phone"), ctx.region),
        store_code=ctx.store_codes.get(store.lower(), store) if store else None,
        channel=channel or ("store" if store else "online"),
        placed_at=placed_at,
        currency=(text(v.get("currency")) or ctx.currency).upper(),
        status=status,
        order_discount_minor=money(v.get("order_discount"), ctx.exponent, "order_discount"),
        lines=[],
        refunds=refunds,
        source="import",
        namespace=text(v.get("member_id_namespace")) or ctx.namespace,
    )


def _order_line(rec: Record, exponent: int) -> OrderLineRow:
    v = rec.values
    name = text(v["name"])
    if name is None:
        raise RowError("name is empty")
    return OrderLineRow(
        sku=text(v.get("sku")),
        name=name,
        category=text(v.get("category")),
        quantity=integer(v["quantity"], "quantity"),
        unit_price_minor=money(v["unit_price"], exponent, "unit_price"),
        discount_minor=money(v.get("line_discount"), exponent, "line_discount"),
    )


def _finish(group: list[Record], ctx: ImportContext, result: ImportResult) -> OrderRow | None:
    rec = group[0]
    try:
        order = _order_head(rec, ctx)
        for rec in group:
            order.lines.append(_order_line(rec, ctx.exponent))
    except RowError as exc:
        result.read += 1
        result.reject(rec.line, f"order {group[0].values['order_id']}: {exc.reason}")
        return None
    return order


def read_orders(
    recs: Iterator[Record], ctx: ImportContext, result: ImportResult
) -> Iterator[OrderRow]:
    """Orders from generic orders.csv records, one order per run of equal ``order_id``."""
    group: list[Record] = []
    current = ""
    for rec in recs:
        order_id = rec.values["order_id"].strip()
        if not order_id:
            result.read += 1
            result.reject(rec.line, "order_id is empty", ",".join(rec.raw))
            continue
        if group and order_id != current:
            order = _finish(group, ctx, result)
            if order is not None:
                yield order
            group = []
        group.append(rec)
        current = order_id
    if group:
        order = _finish(group, ctx, result)
        if order is not None:
            yield order
