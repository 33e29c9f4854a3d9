"""Shopify's customer export and order export CSVs (as the Shopify admin writes them).

Customers: the current export ("Customer ID", "Accepts Email Marketing", "Default Address …",
"Accepts SMS Marketing") and the older one ("Accepts Marketing", "Address1", "Province", …) are
told apart by their header. "Total Spent" and "Total Orders" are checked but not stored: Patron
derives them from orders.

Orders: one row per line item; order-level columns are filled on the order's first row only.
Mapping (docs/import-formats.md): ``Name`` (#1001) is the order id; ``Lineitem discount`` is
the line discount and the rest of ``Discount Amount`` the order discount; shipping and taxes are
not merchandise and stay out of the total; ``Financial Status`` refunded / partially_refunded
become a refund of ``Refunded Amount`` (the whole total if empty), voided — and any order with
``Cancelled at`` — becomes a cancelled order; paid, pending, authorized, partially_paid are
purchases.
"""

from __future__ import annotations

from collections.abc import Iterator

from patron.imports.context import ImportContext
from patron.imports.generic import member_tags, order_reason
from patron.imports.reading import (
    Record,
    RowError,
    email,
    flag,
    integer,
    money,
    phone,
    text,
    timestamp,
)
from patron.imports.rows import ImportResult, MemberRow, OrderLineRow, OrderRow, Reason, RefundRow

CUSTOMERS_CURRENT = {"Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing"}
CUSTOMERS_LEGACY = {"First Name", "Last Name", "Email", "Accepts Marketing", "Address1"}
ORDERS_REQUIRED = {
    "Name",
    "Email",
    "Financial Status",
    "Currency",
    "Discount Amount",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
}
_CURRENT_ADDRESS = {
    "company": "Default Address Company",
    "address1": "Default Address Address1",
    "address2": "Default Address Address2",
    "city": "Default Address City",
    "province": "Default Address Province Code",
    "country": "Default Address Country Code",
    "zip": "Default Address Zip",
}
_LEGACY_ADDRESS = {
    "company": "Company",
    "address1": "Address1",
    "address2": "Address2",
    "city": "City",
    "province": "Province Code",
    "country": "Country Code",
    "zip": "Zip",
}
# Shopify's export has no date of joining a loyalty programme: a merchant who knows it adds
# one of these columns (docs/import-formats.md); the customer is then a member since that date.
MEMBER_SINCE_COLUMNS = ("Member Since", "member_since", "registered_at")
REFUNDED = {"refunded", "partially_refunded"}
CANCELLED = {"voided"}
NAMESPACE = "shopify"


def customer_layout(header: list[str]) -> str | None:
    """ "current", "legacy", or None if this is not a Shopify customer export."""
    columns = set(header)
    if columns >= CUSTOMERS_CURRENT:
        return "current"
    if columns >= CUSTOMERS_LEGACY:
        return "legacy"
    return None


def _customer(rec: Record, ctx: ImportContext, layout: str) -> MemberRow:
    v = rec.values
    current = layout == "current"
    columns = _CURRENT_ADDRESS if current else _LEGACY_ADDRESS
    address = {k: val for k, col in columns.items() if (val := text(v.get(col)))}
    region = address.get("country", ctx.region).upper()
    raw_phone = text(v.get("Phone")) or text(v.get("Default Address Phone"))
    consents: dict[str, bool] = {}
    accepts = flag(v.get("Accepts Email Marketing" if current else "Accepts Marketing"), "email")
    if accepts is not None:
        consents["email"] = accepts
    sms = flag(v.get("Accepts SMS Marketing"), "Accepts SMS Marketing") if current else None
    if sms is not None:
        consents["sms"] = sms
    money(v.get("Total Spent"), ctx.exponent, "Total Spent")
    integer(v.get("Total Orders") or "0", "Total Orders")
    tags = member_tags(v.get("Tags"))
    since_column = next((c for c in MEMBER_SINCE_COLUMNS if text(v.get(c))), None)
    since = timestamp(v.get(since_column), ctx.zone, since_column) if since_column else None
    return MemberRow(
        line=rec.line,
        external_id=text(v.get("Customer ID")) if current else None,
        namespace=ctx.namespace,
        first_name=text(v.get("First Name")),
        last_name=text(v.get("Last Name")),
        email=email(v.get("Email")),
        phone=phone(raw_phone, region if len(region) == 2 else ctx.region),
        gender=None,
        birthday=None,
        address=address or None,
        locale=None,
        tags=tags,
        registered_at=since,
        created_at=None,
        consents=consents,
        note=text(v.get("Note")),
        source="shopify",
        raw=[(rec.line, rec.raw)],
    )


def read_customers(
    recs: Iterator[Record], ctx: ImportContext, result: ImportResult, layout: str
) -> Iterator[MemberRow]:
    """Members from a Shopify customer export; bad records go to ``result`` as rejects."""
    for rec in recs:
        try:
            yield _customer(rec, ctx, layout)
        except RowError as exc:
            result.refuse(rec.line, exc.reason, [(rec.line, rec.raw)])


def _line(rec: Record, exponent: int) -> OrderLineRow:
    v = rec.values
    name = text(v.get("Lineitem name"))
    if name is None:
        raise RowError(Reason("%(column)s is empty", column="Lineitem name"))
    return OrderLineRow(
        sku=text(v.get("Lineitem sku")),
        name=name,
        category=None,
        quantity=integer(v.get("Lineitem quantity"), "Lineitem quantity"),
        unit_price_minor=money(v.get("Lineitem price"), exponent, "Lineitem price"),
        discount_minor=money(v.get("Lineitem discount"), exponent, "Lineitem discount"),
    )


def _names(billing: str | None) -> tuple[str | None, str | None]:
    if not billing:
        return None, None
    first, _, last = billing.partition(" ")
    return first or None, last.strip() or None


def _order(group: list[Record], ctx: ImportContext) -> OrderRow:
    v = group[0].values
    placed_at = timestamp(v.get("Created at"), ctx.zone, "Created at")
    if placed_at is None:
        raise RowError(Reason("%(column)s is empty", column="Created at"))
    lines = []
    for rec in group:
        try:
            lines.append(_line(rec, ctx.exponent))
        except RowError as exc:
            exc.line = rec.line
            raise
    line_discounts = sum(x.discount_minor for x in lines)
    discount = money(v.get("Discount Amount"), ctx.exponent, "Discount Amount")
    status_raw = (text(v.get("Financial Status")) or "").lower()
    cancelled = status_raw in CANCELLED or bool(text(v.get("Cancelled at")))
    name = text(v.get("Name")) or ""
    refunds: list[RefundRow] = []
    if status_raw in REFUNDED and not cancelled:
        amount = money(v.get("Refunded Amount"), ctx.exponent, "Refunded Amount")
        if amount == 0 and status_raw == "refunded":
            amount = sum(x.total_minor for x in lines) - max(discount - line_discounts, 0)
        if amount:
            refunds.append(RefundRow(f"{name}:refund", placed_at, amount, None))
    location = text(v.get("Location"))
    first, last = _names(text(v.get("Billing Name")))
    return OrderRow(
        line=group[0].line,
        external_id=name,
        member_external_id=None,
        member_email=email(v.get("Email")),
        member_phone=phone(text(v.get("Phone")) or text(v.get("Billing Phone")), ctx.region),
        store_code=ctx.store_codes.get(location.lower()) if location else None,
        channel="store" if (text(v.get("Source")) or "").lower() == "pos" else "online",
        placed_at=placed_at,
        currency=(text(v.get("Currency")) or ctx.currency).upper(),
        status="cancelled" if cancelled else "completed",
        order_discount_minor=max(discount - line_discounts, 0),
        lines=lines,
        refunds=refunds,
        source="shopify",
        namespace=ctx.namespace,
        member_first_name=first,
        member_last_name=last,
        raw=[(rec.line, rec.raw) for rec in group],
    )


def read_orders(
    recs: Iterator[Record], ctx: ImportContext, result: ImportResult
) -> Iterator[OrderRow]:
    """Orders from a Shopify order export: consecutive rows with the same Name are one order."""
    group: list[Record] = []
    for rec in recs:
        name = rec.values["Name"].strip()
        if not name:
            result.refuse(
                rec.line,
                Reason("%(column)s (the order number) is empty", column="Name"),
                [(rec.line, rec.raw)],
            )
            continue
        if group and name != group[0].values["Name"].strip():
            order = _finish(group, ctx, result)
            if order is not None:
                yield order
            group = []
        group.append(rec)
    if group:
        order = _finish(group, ctx, result)
        if order is not None:
            yield order


def _finish(group: list[Record], ctx: ImportContext, result: ImportResult) -> OrderRow | None:
    try:
        return _order(group, ctx)
    except RowError as exc:
        line = exc.line or group[0].line
        result.refuse(
            line,
            order_reason(group[0].values["Name"], exc.reason),
            [(rec.line, rec.raw) for rec in group],
        )
        return None
