"""BulkWriter: members and orders written in batches with a handful of statements per batch.

Per batch of orders (a few thousand): one identity look-up, one look-up of existing order ids,
id allocation, one bulk insert per table (members, identities, orders, lines, refunds), one
summary refresh and one funnel recompute for the members the batch touched. No per-row outbox
events: an import of a million lines would otherwise flood every webhook endpoint with events
nobody asked for one by one; the import announces itself once (``import.completed``, counts
only) — see docs/decisions/0650-bulk-import-without-per-row-events.md.

Order arithmetic is the orders API's: line total = quantity × unit price − line discount;
subtotal = Σ line totals; total = subtotal − order discount; negative amounts are refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.ids import fingerprint
from patron.imports.bulk_members import MemberBatch
from patron.imports.funnel_history import CREATED_REASON, replay_funnel
from patron.imports.identities import (
    IDENTITY_COLUMNS,
    MEMBER_COLUMNS,
    TRANSITION_COLUMNS,
    Key,
    MemberRef,
    NewMember,
    identity_keys,
    lookup,
    member_tuple,
    resolve,
)
from patron.imports.rows import ImportResult, MemberRow, OrderRow, Reason
from patron.imports.sql import BulkSql, listed
from patron.members.summary import refresh_member_summary
from patron.orders.models import Order, OrderStatus
from patron.orders.service import split_by_weight
from patron.tenancy.models import Merchant, Store

ORDER_COLUMNS = (
    "id",
    "merchant_id",
    "external_id",
    "member_id",
    "store_id",
    "channel",
    "status",
    "placed_at",
    "currency",
    "subtotal_minor",
    "discount_minor",
    "total_minor",
    "refunded_minor",
    "source",
    "request_hash",
    "created_at",
)
# Rows nothing else in the batch refers to (lines, refunds, identities, transitions) take their
# id from the table's own default (SQLite rowid, PostgreSQL sequence): cheaper than fetching
# thousands of ids first. Members and orders are referred to, so theirs are allocated up front.
REFUND_COLUMNS = (
    "merchant_id",
    "order_id",
    "external_id",
    "refunded_at",
    "amount_minor",
    "reason",
    "request_hash",
    "created_at",
)
LINE_COLUMNS = (
    "merchant_id",
    "order_id",
    "line_no",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price_minor",
    "discount_minor",
    "total_minor",
    "paid_minor",  # the line's total less its share of the order discount
    "refunded_quantity",
    "refunded_minor",
)
_LOOKUP_CHUNK = 5000


# ``core.ids.fingerprint``'s canonical JSON with one encoder for the whole import (json.dumps
# with options builds a new encoder per call, a third of the fingerprint's cost). Same text,
# same hash: orders imported before stay "unchanged" (tests/imports/test_bulk.py checks).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def order_fingerprint(row: OrderRow) -> str:
    """What makes two imports of an order "the same": everything but where it was read from."""
    body = [
        row.external_id,
        row.member_external_id,
        row.member_email,
        row.member_phone,
        row.store_code,
        row.channel,
        row.placed_at.isoformat(),
        row.currency,
        row.status,
        row.order_discount_minor,
        [
            [x.sku, x.name, x.category, x.quantity, x.unit_price_minor, x.discount_minor]
            for x in row.lines
        ],
        [[r.external_id, r.refunded_at.isoformat(), r.amount_minor] for r in row.refunds],
    ]
    return hashlib.sha256(_CANONICAL.encode(body).encode()).hexdigest()


def order_problem(row: OrderRow, currency: str, totals: list[int] | None = None) -> Reason | None:
    """Why an order cannot be imported, or None. Same rules as the orders API.

    ``totals`` are the lines' totals when the caller has them already (the writer does).
    """
    if row.currency != currency:
        return Reason(
            "currency %(currency)s is not the shop's currency %(own)s",
            currency=row.currency,
            own=currency,
        )
    if not row.lines:
        return Reason("order has no lines")
    if totals is None:
        totals = [x.total_minor for x in row.lines]
    for n, (line, total) in enumerate(zip(row.lines, totals, strict=True), 1):
        if line.quantity <= 0:
            return Reason(
                "line %(n)s: quantity must be positive, not %(quantity)s",
                n=n,
                quantity=line.quantity,
            )
        if line.unit_price_minor < 0 or line.discount_minor < 0:
            return Reason("line %(n)s: price and discount cannot be negative", n=n)
        if total < 0:
            return Reason("line %(n)s: discount is larger than the line amount", n=n)
    if row.order_discount_minor < 0:
        return Reason("order discount cannot be negative")
    order_total = sum(totals) - row.order_discount_minor
    if order_total < 0:
        return Reason("order discount is larger than the subtotal")
    refunded = 0
    for refund in row.refunds:
        if refund.amount_minor <= 0:
            return Reason("refund amounts must be positive")
        refunded += refund.amount_minor
    if refunded > order_total:
        return Reason(
            "refunds (%(refunded)s) exceed the order total (%(total)s)",
            refunded=refunded,
            total=order_total,
        )
    return None


@dataclass(slots=True)
class _Pending:
    row: OrderRow
    member: MemberRef | None
    store_id: int | None
    channel: str
    request_hash: str
    totals: list[int]  # the lines' totals (quantity × unit price − line discount)


class BulkWriter:
    """Writes batches of :class:`MemberRow` / :class:`OrderRow` for one merchant.

    The caller owns the transaction (commit per batch or at the end); the writer only uses the
    session's connection. ``namespace`` is the system whose external ids the file carries.
    """

    def __init__(
        self,
        session: Session,
        merchant_id: int,
        namespace: str = "import",
        *,
        use_copy: bool = True,
    ) -> None:
        self.session = session
        self.merchant_id = merchant_id
        self.namespace = namespace
        self.sql = BulkSql(session, use_copy=use_copy)
        self.postgres = self.sql.postgres
        self.enc = self.sql.enc
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise ValueError(f"no merchant {merchant_id}")
        self.currency = merchant.currency
        self.stores = {
            s.code: (s.id, s.channel)
            for s in session.scalars(select(Store).where(Store.merchant_id == merchant_id))
        }

    # -- members ---------------------------------------------------------------------------

    def create_members(self, new: list[NewMember], reason: str = CREATED_REASON) -> None:
        """Insert new members, their identities and their first funnel stage (``user`` from
        when they were created: the history's own date when the file gives one)."""
        if not new:
            return
        now = utcnow(self.session)
        ids = self.sql.allocate_ids("members", len(new))
        for member, member_id in zip(new, ids, strict=True):
            member.id = member_id
        self.sql.insert(
            "members",
            MEMBER_COLUMNS,
            [member_tuple(m, self.merchant_id, now, self.enc) for m in new],
        )
        self.add_identities([(key, m.id) for m in new for key in m.keys])
        self.sql.insert(
            "funnel_transitions",
            TRANSITION_COLUMNS,
            [
                (self.merchant_id, m.id, None, "user", self.enc.ts(m.created_at or now), reason)
                for m in new
            ],
        )

    def add_identities(self, pairs: list[tuple[Key, int]]) -> None:
        ts = self.enc.ts(utcnow(self.session))
        self.sql.insert(
            "member_identities",
            IDENTITY_COLUMNS,
            [
                (self.merchant_id, member_id, kind, ns, value, ts)
                for (kind, ns, value), member_id in pairs
            ],
        )

    def write_members(self, rows: list[MemberRow], result: ImportResult) -> None:
        """Create or update a batch of members (see :mod:`patron.imports.bulk_members`)."""
        MemberBatch(self, rows, result).run()

    # -- orders ----------------------------------------------------------------------------

    def _existing_orders(self, external_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = sorted(set(external_ids))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            rows = self.session.connection().execute(
                select(Order.external_id, Order.request_hash).where(
                    Order.merchant_id == self.merchant_id,
                    listed(Order.external_id, unique[start : start + _LOOKUP_CHUNK], self.postgres),
                )
            )
            for external_id, request_hash in rows:
                found[external_id] = request_hash
        return found

    def _member_for(
        self, row: OrderRow, known: dict[Key, MemberRef], new: list[NewMember]
    ) -> tuple[MemberRef | None, str | None]:
        keys = identity_keys(
            row.member_external_id, row.namespace, row.member_email, row.member_phone
        )
        member, conflict = resolve(keys, known)
        if conflict or member is not None or not keys:
            return member, conflict
        created = NewMember(
            line=row.line,
            first_name=row.member_first_name,
            last_name=row.member_last_name,
            email=row.member_email,
            phone=row.member_phone,
            source=row.source,
            created_at=row.placed_at,
            keys=keys,
        )
        for key in keys:
            known[key] = created
        new.append(created)
        return created, None

    def write_orders(self, rows: list[OrderRow], result: ImportResult) -> None:
        """Insert a batch of orders; unchanged repeats are skipped, changed repeats refused."""
        if self.postgres:
            self.sql.custom_plans()
        known = lookup(
            self.session,
            self.merchant_id,
            [
                k
                for r in rows
                for k in identity_keys(
                    r.member_external_id, r.namespace, r.member_email, r.member_phone
                )
            ],
        )
        existing = self._existing_orders([r.external_id for r in rows])
        pending: list[_Pending] = []
        new: list[NewMember] = []
        for row in rows:
            result.read += 1
            totals = [x.quantity * x.unit_price_minor - x.discount_minor for x in row.lines]
            problem = order_problem(row, self.currency, totals)
            store_id, channel = None, row.channel
            if problem is None and row.store_code:
                store = self.stores.get(row.store_code)
                if store is None:
                    problem = Reason("unknown store code %(code)s", code=repr(row.store_code))
                else:
                    store_id, channel = store[0], row.channel or store[1]
            if problem is not None:
                result.reject(row.line, problem, row.raw)
                continue
            request_hash = order_fingerprint(row)
            previous = existing.get(row.external_id)
            if previous is not None:
                if previous == request_hash:
                    result.unchanged += 1
                else:
                    result.reject(
                        row.line,
                        Reason(
                            "order %(order)s exists with different content",
                            order=row.external_id,
                        ),
                        row.raw,
                    )
                continue
            member, conflict = self._member_for(row, known, new)
            if conflict:
                result.reject(row.line, conflict, row.raw)
                continue
            if (
                isinstance(member, NewMember)
                and member.created_at
                and row.placed_at < member.created_at
            ):
                member.created_at = row.placed_at  # first seen at the earliest of its orders
            existing[row.external_id] = request_hash
            pending.append(_Pending(row, member, store_id, channel, request_hash, totals))
        self.create_members(new)
        result.members_created += len(new)
        self._insert_orders(pending, result)
        touched = {
            p.member if isinstance(p.member, int) else p.member.id for p in pending if p.member
        }
        self.refresh_members(touched, "order import")

    def _insert_orders(self, pending: list[_Pending], result: ImportResult) -> None:
        if not pending:
            return
        enc, merchant_id = self.enc, self.merchant_id
        now = enc.ts(utcnow(self.session))
        order_ids = self.sql.allocate_ids("orders", len(pending))
        orders: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []
        refunds: list[tuple[Any, ...]] = []
        for p, order_id in zip(pending, order_ids, strict=False):
            row, totals = p.row, p.totals
            subtotal = sum(totals)
            total = subtotal - row.order_discount_minor
            refunded = sum(r.amount_minor for r in row.refunds) if row.refunds else 0
            member_id = p.member.id if isinstance(p.member, NewMember) else p.member
            orders.append(
                (
                    order_id,
                    merchant_id,
                    row.external_id,
                    member_id,
                    p.store_id,
                    p.channel,
                    _status(row, total, refunded),
                    enc.ts(row.placed_at),
                    row.currency,
                    subtotal,
                    row.order_discount_minor,
                    total,
                    refunded,
                    row.source,
                    p.request_hash,
                    now,
                )
            )
            shares = (
                split_by_weight(row.order_discount_minor, totals)
                if row.order_discount_minor
                else [0] * len(totals)
            )
            for n, (x, line_total, share) in enumerate(
                zip(row.lines, totals, shares, strict=True), 1
            ):
                lines.append(
                    (
                        merchant_id,
                        order_id,
                        n,
                        x.sku,
                        x.name,
                        x.category,
                        x.quantity,
                        x.unit_price_minor,
                        x.discount_minor,
                        line_total,
                        line_total - share,
                        0,
                        0,
                    )
                )
            for r in row.refunds:
                refunds.append(
                    (
                        merchant_id,
                        order_id,
                        r.external_id,
                        enc.ts(r.refunded_at),
                        r.amount_minor,
                        r.reason,
                        fingerprint([r.external_id, r.amount_minor]),
                        now,
                    )
                )
        self.sql.insert("orders", ORDER_COLUMNS, orders)
        self.sql.insert("order_lines", LINE_COLUMNS, lines)
        self.sql.insert("refunds", REFUND_COLUMNS, refunds)
        result.created += len(orders)
        result.lines_written += len(lines)

    # -- after each batch ------------------------------------------------------------------

    def refresh_members(self, member_ids: set[int], reason: str) -> None:
        """Purchase summary and funnel stage of the members a batch touched (only those); the
        stage moves are dated by the history (:mod:`patron.imports.funnel_history`)."""
        if not member_ids:
            return
        refresh_member_summary(self.session, self.merchant_id, member_ids)
        replay_funnel(self.session, self.merchant_id, member_ids, reason)


def _status(row: OrderRow, total: int, refunded: int) -> str:
    if row.status == OrderStatus.CANCELLED.value:
        return OrderStatus.CANCELLED.value
    if refunded and refunded >= total:
        return OrderStatus.REFUNDED.value
    if refunded:
        return OrderStatus.PARTIALLY_REFUNDED.value
    return OrderStatus.COMPLETED.value
