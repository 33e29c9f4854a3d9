"""CSV export of members and orders in the generic import format (so an export re-imports).

Streaming: rows are read in keyset pages of ``PAGE`` members or orders (by id) and turned into
CSV text chunk by chunk; neither the API response nor the CLI file write holds the whole export.
A member's first external id is exported (with its namespace); times are written in UTC.
Cells that a spreadsheet would run as formulas get a leading ``'`` (:mod:`patron.core.csv_safe`);
the importer strips it, so an export still re-imports.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.csv_safe import csv_writer
from patron.imports.generic import ADDRESS_KEYS, MEMBER_COLUMNS, ORDER_COLUMNS
from patron.imports.reading import currency_exponent
from patron.members.models import Member, MemberConsent, MemberIdentity, MemberNote, MemberTag
from patron.orders.models import Order, OrderLine, Refund
from patron.tenancy.models import Merchant, Store

PAGE = 1000


def _csv_chunk(rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv_writer(buffer).writerows(rows)
    return buffer.getvalue()


def _amount(minor: int, exponent: int) -> str:
    if exponent == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}"


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def _external_ids(session: Session, merchant_id: int, ids: list[int]) -> dict[int, tuple[str, str]]:
    found: dict[int, tuple[str, str]] = {}
    for member_id, namespace, value in session.execute(
        select(MemberIdentity.member_id, MemberIdentity.namespace, MemberIdentity.value)
        .where(
            MemberIdentity.merchant_id == merchant_id,
            MemberIdentity.member_id.in_(ids),
            MemberIdentity.kind == "external",
        )
        .order_by(MemberIdentity.id)
    ):
        found.setdefault(member_id, (value, namespace))
    return found


def _member_page_rows(session: Session, merchant_id: int, members: list[Member]) -> list[list[str]]:
    ids = [m.id for m in members]
    tags: dict[int, list[str]] = defaultdict(list)
    for member_id, tag in session.execute(
        select(MemberTag.member_id, MemberTag.tag)
        .where(MemberTag.merchant_id == merchant_id, MemberTag.member_id.in_(ids))
        .order_by(MemberTag.id)
    ):
        tags[member_id].append(tag)
    consents: dict[int, dict[str, bool]] = defaultdict(dict)
    for member_id, channel, granted in session.execute(
        select(MemberConsent.member_id, MemberConsent.channel, MemberConsent.granted).where(
            MemberConsent.merchant_id == merchant_id,
            MemberConsent.member_id.in_(ids),
            MemberConsent.topic == "marketing",
        )
    ):
        consents[member_id][channel] = granted
    notes: dict[int, str] = {}
    for member_id, body in session.execute(
        select(MemberNote.member_id, MemberNote.body)
        .where(
            MemberNote.merchant_id == merchant_id,
            MemberNote.member_id.in_(ids),
            MemberNote.channel == "import",
        )
        .order_by(MemberNote.id)
    ):
        notes.setdefault(member_id, body)
    external = _external_ids(session, merchant_id, ids)
    rows = []
    for m in members:
        ext, namespace = external.get(m.id, ("", ""))
        address = m.address or {}
        given = consents.get(m.id, {})
        rows.append(
            [
                ext,
                namespace,
                m.first_name or "",
                m.last_name or "",
                m.email or "",
                m.phone or "",
                m.gender or "",
                m.birthday.isoformat() if m.birthday else "",
                m.locale or "",
                ";".join(tags.get(m.id, [])),
                *(str(address.get(k, "")) for k in ADDRESS_KEYS),
                _when(m.registered_at),
                _when(m.created_at),
                {True: "yes", False: "no"}.get(given.get("email"), ""),  # type: ignore[arg-type]
                {True: "yes", False: "no"}.get(given.get("sms"), ""),  # type: ignore[arg-type]
                notes.get(m.id, ""),
            ]
        )
    return rows


def members_csv(session: Session, merchant_id: int) -> Iterator[str]:
    """The merchant's members (merged-away members excluded) as generic members.csv chunks."""
    yield _csv_chunk([MEMBER_COLUMNS])
    after = 0
    while True:
        members = list(
            session.scalars(
                select(Member)
                .where(
                    Member.merchant_id == merchant_id,
                    Member.merged_into_id.is_(None),
                    Member.id > after,
                )
                .order_by(Member.id)
                .limit(PAGE)
            )
        )
        if not members:
            return
        yield _csv_chunk(_member_page_rows(session, merchant_id, members))
        after = members[-1].id
        session.expunge_all()  # keep the identity map from growing with the export


def _order_page_rows(
    session: Session, merchant_id: int, orders: list[Order], stores: dict[int, str], exp: int
) -> list[list[str]]:
    ids = [o.id for o in orders]
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    for line in session.scalars(
        select(OrderLine)
        .where(OrderLine.merchant_id == merchant_id, OrderLine.order_id.in_(ids))
        .order_by(OrderLine.order_id, OrderLine.line_no)
    ):
        lines[line.order_id].append(line)
    refunded_at = dict(
        session.execute(
            select(Refund.order_id, func.max(Refund.refunded_at))
            .where(Refund.merchant_id == merchant_id, Refund.order_id.in_(ids))
            .group_by(Refund.order_id)
        ).all()
    )
    member_ids = sorted({o.member_id for o in orders if o.member_id})
    contacts = {
        mid: (email, phone)
        for mid, email, phone in session.execute(
            select(Member.id, Member.email, Member.phone).where(Member.id.in_(member_ids))
        )
    }
    external = _external_ids(session, merchant_id, member_ids)
    rows: list[list[str]] = []
    for o in orders:
        ext, namespace = external.get(o.member_id or 0, ("", ""))
        email, phone = contacts.get(o.member_id or 0, (None, None))
        for n, line in enumerate(lines[o.id]):
            head = n == 0
            rows.append(
                [
                    o.external_id,
                    _when(o.placed_at) if head else "",
                    ext if head else "",
                    namespace if head else "",
                    (email or "") if head else "",
                    (phone or "") if head else "",
                    stores.get(o.store_id or 0, "") if head else "",
                    o.channel if head else "",
                    o.currency if head else "",
                    ("cancelled" if o.status == "cancelled" else "completed") if head else "",
                    _amount(o.discount_minor, exp) if head else "",
                    _amount(o.refunded_minor, exp) if head and o.refunded_minor else "",
                    _when(refunded_at.get(o.id)) if head and o.refunded_minor else "",
                    line.sku or "",
                    line.name,
                    line.category or "",
                    str(line.quantity),
                    _amount(line.unit_price_minor, exp),
                    _amount(line.discount_minor, exp),
                ]
            )
    return rows


def orders_csv(session: Session, merchant_id: int) -> Iterator[str]:
    """The merchant's orders as generic orders.csv chunks (one row per line)."""
    merchant = session.get(Merchant, merchant_id)
    exp = currency_exponent(merchant.currency) if merchant else 2
    stores = dict(
        session.execute(select(Store.id, Store.code).where(Store.merchant_id == merchant_id)).all()
    )
    yield _csv_chunk([ORDER_COLUMNS])
    after = 0
    while True:
        orders = list(
            session.scalars(
                select(Order)
                .where(Order.merchant_id == merchant_id, Order.id > after)
                .order_by(Order.id)
                .limit(PAGE)
            )
        )
        if not orders:
            return
        yield _csv_chunk(_order_page_rows(session, merchant_id, orders, stores, exp))
        after = orders[-1].id
        session.expunge_all()


def stream_csv(
    factory: sessionmaker[Session], which: str, merchant_id: int, *, bom: bool = False
) -> Iterator[str]:
    """``members`` or ``orders`` as CSV chunks read in a session of their own (a response
    streams after the request's session has closed). ``bom``: a UTF-8 byte order mark first,
    so that Excel — on a Chinese Windows too — opens the file as UTF-8."""
    session = factory()
    try:
        if bom:
            yield "\ufeff"
        chunks = members_csv if which == "members" else orders_csv
        yield from chunks(session, merchant_id)
    finally:
        session.rollback()
        session.close()
