"""The points mall: a catalogue of gifts, vouchers (a coupon template) and products priced in
points; members redeem them, idempotently by key.

A redemption, in one transaction: take stock with a conditional ``UPDATE … WHERE stock >= q``
(which also locks the item row, so the per-member count after it is a locked count), record the
mall order, spend the points through the ledger (earliest expiring lots first; "Redeemed 500
points for Celadon cup" on the member's statement), and issue the coupon at once for a voucher.
Any refusal (out of stock, over the limit, too few points) raises and the caller rolls back:
nothing changes. Cancelling gives the points back with a ledger reversal and returns the stock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from patron.core.events import emit, register_event_types
from patron.core.paging import newest_first
from patron.coupons import service
from patron.coupons.models import (
    CodeSource,
    CodeStatus,
    MallItem,
    MallItemKind,
    MallOrder,
    MallOrderStatus,
)
from patron.coupons.schemas import MallItemIn, MallItemPatch
from patron.ledger.service import EntryInfo, idempotent, reverse_entry, spend_points
from patron.ledger.words import Words
from patron.members.models import Member

register_event_types("mall.redeemed", "mall.order_updated")

S = MallOrderStatus
# Fulfilment: collected in store (pending → ready → collected) or shipped (pending → shipped →
# delivered); cancelled from any state before the member has the item. A voucher is delivered
# at once and can be cancelled only while its coupon is unused.
TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.READY, S.SHIPPED, S.CANCELLED},
    S.READY: {S.COLLECTED, S.CANCELLED},
    S.SHIPPED: {S.DELIVERED, S.CANCELLED},
    S.COLLECTED: set(),
    S.DELIVERED: set(),
    S.CANCELLED: set(),
}
_TAKE_STOCK = text(
    "UPDATE mall_items SET stock = CASE WHEN stock IS NULL THEN NULL ELSE stock - :q END, "
    "updated_at = :now WHERE id = :id AND merchant_id = :m AND (stock IS NULL OR stock >= :q) "
    "RETURNING id"
)
_RETURN_STOCK = text(
    "UPDATE mall_items SET stock = stock + :q WHERE id = :id AND stock IS NOT NULL"
)


# Catalogue ------------------------------------------------------------------------------------


def create_item(session: Session, merchant_id: int, data: MallItemIn) -> MallItem:
    """Add an item to the mall. A voucher names a coupon template of the same merchant."""
    if data.template_id is not None:
        service.get_template(session, merchant_id, data.template_id)
    now = utcnow(session)
    item = MallItem(
        merchant_id=merchant_id,
        **data.model_dump(),
        status="active",
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    return item


def get_item(session: Session, merchant_id: int, item_id: int) -> MallItem:
    item = session.get(MallItem, item_id)
    if item is None or item.merchant_id != merchant_id:
        raise NotFound("mall item not found", code="mall_item_not_found")
    return item


def list_items(
    session: Session,
    merchant_id: int,
    available_only: bool = False,
    limit: int | None = None,
    cursor: int | None = None,
) -> list[MallItem]:
    """The merchant's mall items, oldest first; with ``limit``, one page newest first."""
    query = select(MallItem).where(MallItem.merchant_id == merchant_id)
    if available_only:
        now = utcnow(session)
        query = query.where(
            MallItem.status == "active",
            or_(MallItem.active_from.is_(None), MallItem.active_from <= now),
            or_(MallItem.active_to.is_(None), MallItem.active_to > now),
        )
    query = query.order_by(MallItem.id)
    return list(session.scalars(newest_first(query, MallItem.id, limit, cursor)))


def update_item(session: Session, merchant_id: int, item_id: int, data: MallItemPatch) -> MallItem:
    """Change an item (``stock`` sets the remaining stock: a restock)."""
    item = get_item(session, merchant_id, item_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(item, key, value)
    item.updated_at = utcnow(session)
    session.flush()
    return item


# Redeeming ------------------------------------------------------------------------------------


def _check_available(item: MallItem, session: Session) -> None:
    now = utcnow(session)
    if (
        item.status != "active"
        or (item.active_from is not None and now < item.active_from)
        or (item.active_to is not None and now >= item.active_to)
    ):
        raise BusinessRuleViolation("this item is not available now", code="mall_item_unavailable")


def _take_stock(session: Session, item: MallItem, quantity: int) -> None:
    row = session.execute(
        _TAKE_STOCK,
        {"q": quantity, "now": utcnow(session), "id": item.id, "m": item.merchant_id},
    ).first()
    if row is None:
        raise BusinessRuleViolation(
            f"{item.name} is out of stock", code="mall_out_of_stock", details={"item_id": item.id}
        )
    session.expire(item, ["stock", "updated_at"])


def _check_member_limit(session: Session, item: MallItem, member_id: int, quantity: int) -> None:
    if item.per_member_limit is None:
        return
    held = session.scalar(
        select(func.coalesce(func.sum(MallOrder.quantity), 0)).where(
            MallOrder.merchant_id == item.merchant_id,
            MallOrder.member_id == member_id,
            MallOrder.item_id == item.id,
            MallOrder.status != S.CANCELLED.value,
        )
    )
    if int(held or 0) + quantity > item.per_member_limit:
        raise BusinessRuleViolation(
            f"a member may redeem {item.name} at most {item.per_member_limit} times",
            code="mall_member_limit_reached",
            details={"per_member_limit": item.per_member_limit, "redeemed": int(held or 0)},
        )


def redeem(
    session: Session,
    merchant_id: int,
    member_id: int,
    item_id: int,
    quantity: int,
    idempotency_key: str,
    actor: str,
) -> tuple[MallOrder, bool]:
    """Redeem a mall item for points. Returns (order, replayed). The same key with the same
    request returns the first order; with another request, 409 ``idempotency_key_reused``."""
    if not idempotency_key:
        raise InvalidInput("an Idempotency-Key is required", code="idempotency_key_required")
    body = {"op": "mall_redeem", "member_id": member_id, "item_id": item_id, "q": quantity}
    with idempotent(session, merchant_id, f"mall:{idempotency_key}", body) as slot:
        if slot.replay is not None:
            return get_order(session, merchant_id, int(slot.replay["mall_order_id"])), True
        order = _redeem(session, merchant_id, member_id, item_id, quantity, idempotency_key, actor)
        slot.save({"mall_order_id": order.id})
    return order, False


def _redeem(
    session: Session,
    merchant_id: int,
    member_id: int,
    item_id: int,
    quantity: int,
    key: str,
    actor: str,
) -> MallOrder:
    item = get_item(session, merchant_id, item_id)
    member = session.get(Member, member_id)
    if member is None or member.merchant_id != merchant_id:
        raise NotFound("member not found", code="member_not_found")
    _check_available(item, session)
    _take_stock(session, item, quantity)
    _check_member_limit(session, item, member_id, quantity)
    now = utcnow(session)
    points = item.points_price * quantity
    order = MallOrder(
        merchant_id=merchant_id,
        member_id=member_id,
        item_id=item.id,
        quantity=quantity,
        points=points,
        status=S.PENDING.value,
        idempotency_key=key,
        request_hash="",
        history=[{"status": S.PENDING.value, "at": now.isoformat(), "actor": actor}],
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    label = item.name if quantity == 1 else f"{quantity} × {item.name}"
    posted = spend_points(
        session,
        merchant_id,
        member_id,
        points,
        EntryInfo.worded(
            "mall_redeemed",
            Words("mall_redeemed", {"points": points, "item": label}),
            actor,
            object_type="mall_order",
            object_id=str(order.id),
        ),
    )
    order.spend_entry_id = posted.id
    if item.kind == MallItemKind.VOUCHER.value and item.template_id is not None:
        code = service.issue_code(
            session,
            merchant_id,
            item.template_id,
            member_id,
            source=CodeSource.MALL,
            reason_key=f"mall:{order.id}",
            actor=actor,
        )
        order.coupon_code_id = code.id
        _set_status(order, S.DELIVERED.value, actor, now, "coupon issued")
    session.flush()
    emit(session, merchant_id, "mall.redeemed", order_payload(order, item), subject_id=member_id)
    return order


def order_payload(order: MallOrder, item: MallItem) -> dict[str, Any]:
    return {
        "mall_order_id": order.id,
        "member_id": order.member_id,
        "item_id": item.id,
        "item_name": item.name,
        "kind": item.kind,
        "quantity": order.quantity,
        "points": order.points,
        "status": order.status,
        "coupon_code_id": order.coupon_code_id,
    }


# Orders ---------------------------------------------------------------------------------------


def get_order(session: Session, merchant_id: int, order_id: int) -> MallOrder:
    order = session.get(MallOrder, order_id)
    if order is None or order.merchant_id != merchant_id:
        raise NotFound("mall order not found", code="mall_order_not_found")
    return order


def list_orders(
    session: Session,
    merchant_id: int,
    *,
    member_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> list[MallOrder]:
    query = select(MallOrder).where(MallOrder.merchant_id == merchant_id)
    if member_id is not None:
        query = query.where(MallOrder.member_id == member_id)
    if status is not None:
        query = query.where(MallOrder.status == status)
    if cursor is not None:
        query = query.where(MallOrder.id < cursor)
    return list(session.scalars(query.order_by(MallOrder.id.desc()).limit(limit + 1)))


def _set_status(order: MallOrder, status: str, actor: str, now: Any, note: str | None) -> None:
    order.status = status
    order.updated_at = now
    order.history = [
        *order.history,
        {"status": status, "at": now.isoformat(), "actor": actor, "note": note},
    ]


def update_order(
    session: Session, merchant_id: int, order_id: int, status: str, actor: str, note: str | None
) -> MallOrder:
    """Move a mall order along its fulfilment states; ``cancelled`` refunds the points with a
    ledger reversal and returns the stock (a voucher only while its coupon is unused)."""
    order = get_order(session, merchant_id, order_id)
    session.refresh(order, with_for_update=True)
    item = get_item(session, merchant_id, order.item_id)
    allowed = set(TRANSITIONS[order.status])
    if item.kind == MallItemKind.VOUCHER.value and order.status == S.DELIVERED.value:
        allowed = {S.CANCELLED.value}
    if status not in allowed:
        raise Conflict(
            f"a {order.status} order cannot become {status}",
            code="mall_order_transition",
            details={"from": order.status, "to": status, "allowed": sorted(allowed)},
        )
    now = utcnow(session)
    if status == S.CANCELLED.value:
        _cancel(session, order, item, actor)
    _set_status(order, status, actor, now, note)
    if note is not None:
        order.note = note
    session.flush()
    emit(
        session,
        merchant_id,
        "mall.order_updated",
        order_payload(order, item),
        subject_id=order.member_id,
    )
    return order


def _cancel(session: Session, order: MallOrder, item: MallItem, actor: str) -> None:
    if order.coupon_code_id is not None:
        code = service.get_code(session, order.merchant_id, order.coupon_code_id)
        if code.status != CodeStatus.ISSUED.value:
            raise Conflict(f"the voucher's coupon is {code.status}", code="mall_voucher_used")
        service.void_code(session, order.merchant_id, code.id, "mall order cancelled", actor)
    if order.spend_entry_id is not None:
        posted = reverse_entry(
            session,
            order.merchant_id,
            order.spend_entry_id,
            EntryInfo.worded(
                "mall_cancelled",
                Words("mall_refunded", {"points": order.points, "item": item.name}),
                actor,
                object_type="mall_order",
                object_id=str(order.id),
            ),
        )
        order.refund_entry_id = posted.id
    session.execute(_RETURN_STOCK, {"q": order.quantity, "id": item.id})
    session.expire(item, ["stock"])
