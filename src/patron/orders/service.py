"""Products, orders and refunds.

Orders arrive idempotently: the merchant's order id is unique per merchant; a repeat with the
same body returns the first order, a repeat with a different body is a 409. Refunds likewise by
the merchant's refund id, and a refund can never return more than was paid for a line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from patron.core.clock import utcnow
from patron.core.db import in_all_or_nothing, savepoint
from patron.core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from patron.core.events import emit
from patron.core.ids import fingerprint
from patron.core.merchant_cache import MERCHANT_CACHE, merchant_version
from patron.core.money import check_order_amount
from patron.members.funnel import (
    COUNTED_STATUSES,
    recent_orders_since,
    recompute_funnel,
    recompute_funnel_of,
)
from patron.members.models import IdentityKind, Member
from patron.members.normalize import normalize_email, normalize_phone
from patron.members.schemas import ExternalId, MemberCreate
from patron.members.service import create_member, find_by_identity, get_member, phone_region
from patron.members.summary import refresh_member_summary
from patron.orders.models import Order, OrderLine, OrderStatus, Product, Refund, RefundLine
from patron.orders.schemas import (
    CustomerRef,
    OrderCreate,
    ProductCreate,
    ProductUpdate,
    RefundCreate,
)
from patron.orders.settlement import RefundOutcome, settle_recorded, settle_refunded
from patron.tenancy.shop import ShopStore, find_store, shop

FUTURE_TOLERANCE = timedelta(minutes=10)


# --- products ---------------------------------------------------------------------------------


def create_product(session: Session, merchant_id: int, data: ProductCreate) -> Product:
    """A catalogue item; the sku is unique per merchant."""
    now = utcnow(session)
    product = Product(merchant_id=merchant_id, **data.model_dump(), created_at=now, updated_at=now)
    session.add(product)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a product with sku {data.sku!r} exists", code="product_exists") from exc
    return product


def get_product(session: Session, merchant_id: int, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None or product.merchant_id != merchant_id:
        raise NotFound("product not found", code="product_not_found")
    return product


def update_product(
    session: Session, merchant_id: int, product_id: int, data: ProductUpdate
) -> Product:
    product = get_product(session, merchant_id, product_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(product, key, value)
    product.updated_at = utcnow(session)
    session.flush()
    return product


def list_products(
    session: Session,
    merchant_id: int,
    *,
    category: str | None = None,
    q: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> list[Product]:
    query = select(Product).where(Product.merchant_id == merchant_id)
    if category:
        query = query.where(Product.category == category)
    if q:
        query = query.where((Product.sku == q) | Product.name.ilike(f"%{q}%"))
    if active is not None:
        query = query.where(Product.active.is_(active))
    if cursor is not None:
        query = query.where(Product.id < cursor)
    return list(session.scalars(query.order_by(Product.id.desc()).limit(limit + 1)))


def upcoming_releases(
    session: Session, merchant_id: int, at: datetime, limit: int = 20
) -> list[Product]:
    """Active products not yet released at ``at`` (early access for members), soonest first."""
    return list(
        session.scalars(
            select(Product)
            .where(
                Product.merchant_id == merchant_id,
                Product.release_at > at,
                Product.active.is_(True),
            )
            .order_by(Product.release_at, Product.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class CatalogueItem:
    """A product as a quote or an order line reads it (cached: ADR 0900)."""

    sku: str
    name: str
    category: str | None
    price_minor: int
    release_at: datetime | None


def catalogue(session: Session, merchant_id: int, skus: Sequence[str]) -> dict[str, CatalogueItem]:
    """The products of these skus (unknown skus left out), from the merchant cache while the
    merchant's set-up version holds; the skus not held yet read in one statement."""

    def load(missing: set[str]) -> dict[str, CatalogueItem]:
        rows = session.execute(
            select(
                Product.sku, Product.name, Product.category, Product.price_minor, Product.release_at
            ).where(Product.merchant_id == merchant_id, Product.sku.in_(missing))
        ).all()
        return {r.sku: CatalogueItem(*r) for r in rows}

    if not skus:
        return {}
    version = merchant_version(session, merchant_id)
    held = MERCHANT_CACHE.keyed(merchant_id, version, "catalogue", skus, load)
    return {sku: item for sku, item in held.items() if item is not None}


def products_by_sku(session: Session, merchant_id: int, skus: Sequence[str]) -> dict[str, Product]:
    if not skus:
        return {}
    rows = session.scalars(
        select(Product).where(Product.merchant_id == merchant_id, Product.sku.in_(set(skus)))
    )
    return {p.sku: p for p in rows}


# --- money ------------------------------------------------------------------------------------


def split_by_weight(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` in proportion to ``weights`` (largest remainder; parts sum exactly)."""
    total = sum(weights)
    if total <= 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in remainders[: amount - sum(shares)]:
        shares[i] += 1
    return shares


# --- orders -----------------------------------------------------------------------------------


def _resolve_store(session: Session, merchant_id: int, data: OrderCreate) -> ShopStore | None:
    return find_store(session, merchant_id, data.store_id, data.store_code)


def resolve_customer(session: Session, merchant_id: int, ref: CustomerRef) -> Member:
    """The member a till or shop names by phone, email or external id; a new contact if unknown."""
    region = phone_region(session, merchant_id)
    phone = normalize_phone(ref.phone, region) if ref.phone else None
    email = normalize_email(ref.email) if ref.email else None
    lookups: list[tuple[str, str, str] | None] = [
        (IdentityKind.EXTERNAL.value, ref.external_id, ref.namespace) if ref.external_id else None,
        (IdentityKind.PHONE.value, phone, "") if phone else None,
        (IdentityKind.EMAIL.value, email, "") if email else None,
    ]
    found = _first_holder(session, merchant_id, lookups)
    if found is not None:
        return found
    if not (phone or email or ref.external_id):
        raise InvalidInput("customer needs a phone, email or external_id", code="invalid_customer")
    new_contact = MemberCreate(
        first_name=ref.first_name,
        last_name=ref.last_name,
        phone=phone,
        email=email,
        external_ids=[ExternalId(namespace=ref.namespace, value=ref.external_id)]
        if ref.external_id
        else [],
        registered=False,
        source="order",
    )
    try:
        with session.begin_nested():
            return create_member(session, merchant_id, new_contact)
    except (IntegrityError, Conflict):
        # Another till created this customer a moment ago: use theirs.
        found = _first_holder(session, merchant_id, lookups)
        if found is None:
            raise
        return found


def _first_holder(
    session: Session, merchant_id: int, lookups: list[tuple[str, str, str] | None]
) -> Member | None:
    for lookup in lookups:
        if lookup is not None:
            found = find_by_identity(session, merchant_id, *lookup)
            if found is not None:
                return found
    return None


def _build_lines(session: Session, merchant_id: int, data: OrderCreate) -> list[dict[str, Any]]:
    # Only lines that leave a name, price or category to the catalogue read it (checkout gives
    # all three: it read the products for its quote already).
    fill = [
        ln.sku
        for ln in data.lines
        if ln.sku and (ln.name is None or ln.unit_price_minor is None or ln.category is None)
    ]
    known = catalogue(session, merchant_id, fill)
    lines = []
    for no, ln in enumerate(data.lines, start=1):
        product = known.get(ln.sku) if ln.sku else None
        name = ln.name or (product.name if product else None)
        price = (
            ln.unit_price_minor
            if ln.unit_price_minor is not None
            else (product.price_minor if product else None)
        )
        if name is None or price is None:
            raise InvalidInput(
                f"line {no}: unknown sku {ln.sku!r}; give name and unit_price_minor",
                code="unknown_sku",
            )
        gross = ln.quantity * price
        if ln.discount_minor > gross:
            raise InvalidInput(
                f"line {no}: discount exceeds the line price", code="discount_too_large"
            )
        lines.append(
            {
                "line_no": no,
                "sku": ln.sku,
                "name": name,
                "category": ln.category
                if ln.category is not None
                else (product.category if product else None),
                "quantity": ln.quantity,
                "unit_price_minor": price,
                "discount_minor": ln.discount_minor,
                "total_minor": gross - ln.discount_minor,
            }
        )
    return lines


def create_order(session: Session, merchant_id: int, data: OrderCreate) -> tuple[Order, bool]:
    """Record a purchase, settled by the registered settlers (the programs: points, growth).
    Returns ``(order, created)``; ``created`` is False for a replay."""
    recorded = record_order(session, merchant_id, data)
    return recorded.order, recorded.created


@dataclass(frozen=True)
class RecordedOrder:
    """An order and its lines as written (``lines`` empty for a replay)."""

    order: Order
    created: bool
    lines: list[OrderLine] = field(default_factory=list)


def record_order(
    session: Session, merchant_id: int, data: OrderCreate, *, settle: bool = True
) -> RecordedOrder:
    """Record a purchase (see :func:`create_order`). ``settle=False``: the caller settles the
    member's payments and earnings itself (checkout, which knows how the member paid)."""
    body_hash = fingerprint(data.model_dump(mode="json"))
    # Inside all_or_nothing (a checkout commit) an order id already taken is refused at the
    # INSERT below, with no read before it and no savepoint around it (ADR 0900).
    whole = in_all_or_nothing(session)
    existing = None if whole else _existing_order(session, merchant_id, data.external_id, body_hash)
    if existing is not None:
        return RecordedOrder(existing, False)
    now = utcnow(session)
    placed_at = data.placed_at or now
    if placed_at.tzinfo is None:
        raise InvalidInput(
            "placed_at needs a time zone (e.g. 2026-03-01T10:00:00+08:00)", code="naive_datetime"
        )
    if placed_at > now + FUTURE_TOLERANCE:
        raise InvalidInput("placed_at is in the future", code="order_in_future")
    currency = shop(session, merchant_id).currency
    store = _resolve_store(session, merchant_id, data)
    lines = _build_lines(session, merchant_id, data)
    subtotal = sum(ln["total_minor"] for ln in lines)
    check_order_amount(sum(ln["quantity"] * ln["unit_price_minor"] for ln in lines), "the order")
    if data.discount_minor > subtotal:
        raise InvalidInput("order discount exceeds the subtotal", code="discount_too_large")
    shares = split_by_weight(data.discount_minor, [ln["total_minor"] for ln in lines])
    for ln, share in zip(lines, shares, strict=True):
        ln["paid_minor"] = ln["total_minor"] - share
    # A member named by id is only read, so it goes into the order's INSERT; a customer
    # reference may create a contact, which waits until the order id is claimed.
    member = _order_member(session, merchant_id, data) if data.customer is None else None
    order = Order(
        merchant_id=merchant_id,
        external_id=data.external_id,
        member_id=member.id if member else None,
        store_id=store.id if store else None,
        channel=store.channel if store else "online",
        status=OrderStatus.COMPLETED.value,
        placed_at=placed_at,
        currency=currency,
        subtotal_minor=subtotal,
        discount_minor=data.discount_minor,
        total_minor=subtotal - data.discount_minor,
        refunded_minor=0,
        source=data.source,
        request_hash=body_hash,
        created_at=now,
    )
    # Claim the order id first: concurrent repeats wait on the unique index, then replay.
    try:
        with savepoint(session):
            session.add(order)
            session.flush()
    except IntegrityError as exc:
        if whole:
            raise Conflict(
                f"order {data.external_id!r} was already recorded", code="order_already_recorded"
            ) from exc
        replay = _existing_order(session, merchant_id, data.external_id, body_hash)
        if replay is None:
            raise
        return RecordedOrder(replay, False)
    if data.customer is not None:
        member = _order_member(session, merchant_id, data)
        order.member_id = member.id if member else None
    line_rows = [OrderLine(merchant_id=merchant_id, order_id=order.id, **ln) for ln in lines]
    session.add_all(line_rows)
    session.flush()
    if member is not None:
        if settle:
            settle_recorded(session, order, line_rows)
        _count_purchase(session, merchant_id, member.id, order)
    emit(session, merchant_id, "order.created", order_payload(order, lines), subject_id=order.id)
    return RecordedOrder(order, True, line_rows)


def _order_member(session: Session, merchant_id: int, data: OrderCreate) -> Member | None:
    if data.member_id is not None:
        member = get_member(session, merchant_id, data.member_id)
    elif data.customer is not None:
        member = resolve_customer(session, merchant_id, data.customer)
    else:
        return None
    if member.merged_into_id is not None:
        member = get_member(session, merchant_id, member.merged_into_id)
    return member


def _existing_order(
    session: Session, merchant_id: int, external_id: str, body_hash: str
) -> Order | None:
    order = session.scalar(
        select(Order).where(Order.merchant_id == merchant_id, Order.external_id == external_id)
    )
    if order is None:
        return None
    if order.request_hash != body_hash:
        raise Conflict(
            f"order {external_id!r} was already recorded with different content",
            code="order_conflict",
            details={"order_id": order.id},
        )
    return order


def _count_purchase(session: Session, merchant_id: int, member_id: int, order: Order) -> None:
    """Count the order in the member's totals and move the member along the funnel: one
    statement reads back what the funnel needs (issue 12)."""
    at = order.placed_at
    recent = (
        select(func.count())
        .where(
            Order.merchant_id == merchant_id,
            Order.member_id == member_id,
            Order.placed_at >= recent_orders_since(utcnow(session)),
            Order.status.in_(COUNTED_STATUSES),
        )
        .scalar_subquery()
    )
    row = session.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(
            orders_count=Member.orders_count + 1,
            total_spent_minor=Member.total_spent_minor + order.total_minor,
            first_order_at=case(
                (Member.first_order_at.is_(None) | (Member.first_order_at > at), at),
                else_=Member.first_order_at,
            ),
            last_order_at=case(
                (Member.last_order_at.is_(None) | (Member.last_order_at < at), at),
                else_=Member.last_order_at,
            ),
        )
        .returning(
            Member.id,
            Member.registered_at,
            Member.orders_count,
            Member.engagement_score,
            Member.funnel_stage,
            recent,
        )
        .execution_options(synchronize_session=False)
    ).one()
    # Only the counted columns of this member changed: expiring everything would make the rest
    # of the transaction (checkout) read the order, member and lots it just wrote again.
    loaded = session.identity_map.get(identity_key(Member, member_id))
    if loaded is not None:
        session.expire(loaded, list(_COUNTED))
    recompute_funnel_of(session, merchant_id, row[:5], int(row[5]), f"order {order.external_id}")


_COUNTED = ("orders_count", "total_spent_minor", "first_order_at", "last_order_at")


def order_payload(order: Order, lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What webhooks see of an order."""
    return {
        "id": order.id,
        "external_id": order.external_id,
        "member_id": order.member_id,
        "store_id": order.store_id,
        "channel": order.channel,
        "placed_at": order.placed_at.isoformat(),
        "currency": order.currency,
        "total_minor": order.total_minor,
        "discount_minor": order.discount_minor,
        "lines": [
            {
                k: ln[k]
                for k in (
                    "line_no",
                    "sku",
                    "name",
                    "category",
                    "quantity",
                    "unit_price_minor",
                    "paid_minor",
                )
            }
            for ln in lines
        ],
    }


def get_order(session: Session, merchant_id: int, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None or order.merchant_id != merchant_id:
        raise NotFound("order not found", code="order_not_found")
    return order


def order_lines(session: Session, order_ids: Sequence[int]) -> dict[int, list[OrderLine]]:
    """Lines of several orders at once, by order id, in line order."""
    out: dict[int, list[OrderLine]] = defaultdict(list)
    if order_ids:
        for line in session.scalars(
            select(OrderLine)
            .where(OrderLine.order_id.in_(order_ids))
            .order_by(OrderLine.order_id, OrderLine.line_no)
        ):
            out[line.order_id].append(line)
    return out


def order_refunds(
    session: Session, order_ids: Sequence[int]
) -> dict[int, list[tuple[Refund, list[RefundLine]]]]:
    """Refunds of several orders at once, with their lines."""
    out: dict[int, list[tuple[Refund, list[RefundLine]]]] = defaultdict(list)
    if not order_ids:
        return out
    refunds = list(
        session.scalars(select(Refund).where(Refund.order_id.in_(order_ids)).order_by(Refund.id))
    )
    lines: dict[int, list[RefundLine]] = defaultdict(list)
    if refunds:
        for rl in session.scalars(
            select(RefundLine).where(RefundLine.refund_id.in_([r.id for r in refunds]))
        ):
            lines[rl.refund_id].append(rl)
    for r in refunds:
        out[r.order_id].append((r, lines[r.id]))
    return out


def list_orders(
    session: Session,
    merchant_id: int,
    *,
    member_id: int | None = None,
    store_id: int | None = None,
    channel: str | None = None,
    status: str | None = None,
    placed_from: datetime | None = None,
    placed_to: datetime | None = None,
    external_id: str | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> list[Order]:
    """Orders, newest first; ``limit + 1`` rows are fetched so callers can page."""
    query = select(Order).where(Order.merchant_id == merchant_id)
    for column, value in (
        (Order.member_id, member_id),
        (Order.store_id, store_id),
        (Order.channel, channel),
        (Order.status, status),
        (Order.external_id, external_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if placed_from is not None:
        query = query.where(Order.placed_at >= placed_from)
    if placed_to is not None:
        query = query.where(Order.placed_at < placed_to)
    if cursor is not None:
        query = query.where(Order.id < cursor)
    return list(session.scalars(query.order_by(Order.id.desc()).limit(limit + 1)))


def member_orders(
    session: Session, merchant_id: int, member_id: int, limit: int = 50, cursor: int | None = None
) -> list[Order]:
    """A member's orders, newest first (``limit + 1`` rows for paging)."""
    get_member(session, merchant_id, member_id)
    query = select(Order).where(Order.merchant_id == merchant_id, Order.member_id == member_id)
    if cursor is not None:
        query = query.where(Order.id < cursor)
    return list(
        session.scalars(query.order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit + 1))
    )


# --- refunds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRefund:
    """A refund and what it did: ``outcome`` (points, stored value, the cash to hand back) is
    known only when this call recorded it (``created``), not for a replay."""

    refund: Refund
    created: bool
    order_status: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    outcome: RefundOutcome | None = None


def refund_order(
    session: Session, merchant_id: int, order_id: int, data: RefundCreate
) -> tuple[Refund, bool]:
    """Refund lines of an order (all that is left if no lines are given); see
    :func:`record_refund`. Returns ``(refund, created)``."""
    done = record_refund(session, merchant_id, order_id, data)
    return done.refund, done.created


def record_refund(
    session: Session, merchant_id: int, order_id: int, data: RefundCreate
) -> RecordedRefund:
    """Refund lines of an order (all that is left if no lines are given).

    Each line gives back its paid amount in proportion to the quantity refunded; the last unit
    returns the rest exactly, so refunding everything returns exactly what was paid. The
    member's points and stored value follow through the programs (``outcome``)."""
    body_hash = fingerprint({"order_id": order_id, **data.model_dump(mode="json")})
    existing = _existing_refund(session, merchant_id, data.external_id, body_hash)
    if existing is not None:
        return _replayed(session, existing)
    order = _lock_order(session, merchant_id, order_id)
    if order.member_id is not None:
        # The member's row before the ledger's accounts, in the order a purchase takes them (its
        # totals, then the ledger): taken the other way round, a refund and a purchase of the
        # same member deadlocked (ADR 0043).
        session.execute(
            select(Member.id)
            .where(Member.id == order.member_id, Member.merchant_id == merchant_id)
            .with_for_update()
        )
    if order.status == OrderStatus.CANCELLED.value:
        raise BusinessRuleViolation("a cancelled order cannot be refunded", code="order_cancelled")
    lines = {ln.line_no: ln for ln in order_lines(session, [order.id])[order.id]}
    wanted = _refund_quantities(lines, data)
    now = utcnow(session)
    refund = Refund(
        merchant_id=merchant_id,
        order_id=order.id,
        external_id=data.external_id,
        refunded_at=data.refunded_at or now,
        amount_minor=0,
        reason=data.reason,
        request_hash=body_hash,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(refund)
            session.flush()
    except IntegrityError:
        replay = _existing_refund(session, merchant_id, data.external_id, body_hash)
        if replay is None:
            raise
        return _replayed(session, replay)
    refunded_lines = _refund_lines(session, refund, lines, wanted)
    order.refunded_minor += refund.amount_minor
    all_back = all(ln.refunded_quantity == ln.quantity for ln in lines.values())
    order.status = (OrderStatus.REFUNDED if all_back else OrderStatus.PARTIALLY_REFUNDED).value
    session.flush()
    outcome = RefundOutcome(cash_minor=refund.amount_minor)
    if order.member_id is not None:
        outcome = settle_refunded(session, order, refund, list(lines.values()))
        refresh_member_summary(session, merchant_id, [order.member_id])
        recompute_funnel(session, merchant_id, [order.member_id], f"refund {refund.external_id}")
    emit(
        session,
        merchant_id,
        "order.refunded",
        {
            "order_id": order.id,
            "order_external_id": order.external_id,
            "refund_id": refund.id,
            "refund_external_id": refund.external_id,
            "member_id": order.member_id,
            "amount_minor": refund.amount_minor,
            "order_status": order.status,
            "lines": refunded_lines,
        },
        subject_id=order.id,
    )
    return RecordedRefund(refund, True, order.status, refunded_lines, outcome)


def _refund_lines(
    session: Session, refund: Refund, lines: dict[int, OrderLine], wanted: dict[int, int]
) -> list[dict[str, Any]]:
    """Refund the wanted quantities line by line; sets the refund's amount."""
    total = 0
    refunded_lines = []
    for line_no, qty in sorted(wanted.items()):
        line = lines[line_no]
        new_qty = line.refunded_quantity + qty
        amount = line.paid_minor * new_qty // line.quantity - line.refunded_minor
        line.refunded_quantity = new_qty
        line.refunded_minor += amount
        total += amount
        session.add(
            RefundLine(
                merchant_id=refund.merchant_id,
                refund_id=refund.id,
                order_line_id=line.id,
                quantity=qty,
                amount_minor=amount,
            )
        )
        refunded_lines.append(
            {"line_no": line_no, "sku": line.sku, "quantity": qty, "amount_minor": amount}
        )
    refund.amount_minor = total
    return refunded_lines


def _replayed(session: Session, refund: Refund) -> RecordedRefund:
    status = session.scalar(select(Order.status).where(Order.id == refund.order_id))
    return RecordedRefund(refund, False, status or "")


def _lock_order(session: Session, merchant_id: int, order_id: int) -> Order:
    """The order, row-locked on PostgreSQL so two refunds of it queue up."""
    order = session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.merchant_id == merchant_id)
        .with_for_update()
    )
    if order is None:
        raise NotFound("order not found", code="order_not_found")
    session.refresh(order)
    return order


def _refund_quantities(lines: dict[int, OrderLine], data: RefundCreate) -> dict[int, int]:
    if data.lines is None:
        wanted = {
            no: ln.quantity - ln.refunded_quantity
            for no, ln in lines.items()
            if ln.quantity > ln.refunded_quantity
        }
        if not wanted:
            raise BusinessRuleViolation(
                "this order was already refunded in full", code="nothing_to_refund"
            )
        return wanted
    wanted = {}
    for item in data.lines:
        line = lines.get(item.line_no)
        if line is None:
            raise InvalidInput(f"order has no line {item.line_no}", code="unknown_line")
        wanted[item.line_no] = wanted.get(item.line_no, 0) + item.quantity
    for line_no, qty in wanted.items():
        line = lines[line_no]
        left = line.quantity - line.refunded_quantity
        if qty > left:
            raise BusinessRuleViolation(
                f"line {line_no}: {qty} to refund but only {left} left",
                code="refund_exceeds_quantity",
                details={"line_no": line_no, "requested": qty, "refundable": left},
            )
    return wanted


def _existing_refund(
    session: Session, merchant_id: int, external_id: str, body_hash: str
) -> Refund | None:
    refund = session.scalar(
        select(Refund).where(Refund.merchant_id == merchant_id, Refund.external_id == external_id)
    )
    if refund is None:
        return None
    if refund.request_hash != body_hash:
        raise Conflict(
            f"refund {external_id!r} was already recorded with different content",
            code="refund_conflict",
            details={"refund_id": refund.id},
        )
    return refund
