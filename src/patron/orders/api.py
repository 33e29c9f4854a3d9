"""/api/v1: products, orders, refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from patron.core.http import (
    Page,
    PageDep,
    PathId,
    QueryId,
    SessionDep,
    answer_replay,
    page_of,
    replay_responses,
)
from patron.orders import service
from patron.orders.models import Order
from patron.orders.schemas import (
    OrderCreate,
    OrderLineOut,
    OrderOut,
    OrderStatusName,
    ProductCreate,
    ProductOut,
    ProductUpdate,
    RefundCreate,
    RefundLineOut,
    RefundOut,
)
from patron.tenancy.auth import ClerkDep, ManagerDep

router = APIRouter(prefix="/api/v1", tags=["orders"])


@router.get("/products", response_model=Page[ProductOut], operation_id="list_products")
def list_products(
    session: SessionDep,
    principal: ClerkDep,
    page: PageDep,
    category: str | None = None,
    q: str | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    rows = service.list_products(
        session,
        principal.merchant_id,
        category=category,
        q=q,
        active=active,
        limit=page.limit,
        cursor=page.cursor,
    )
    return page_of(rows, page.limit, ProductOut.model_validate)


@router.post("/products", response_model=ProductOut, status_code=201, operation_id="create_product")
def create_product(body: ProductCreate, session: SessionDep, principal: ManagerDep) -> ProductOut:
    return ProductOut.model_validate(service.create_product(session, principal.merchant_id, body))


@router.get("/products/{product_id}", response_model=ProductOut, operation_id="get_product")
def get_product(product_id: PathId, session: SessionDep, principal: ClerkDep) -> ProductOut:
    return ProductOut.model_validate(
        service.get_product(session, principal.merchant_id, product_id)
    )


@router.patch("/products/{product_id}", response_model=ProductOut, operation_id="update_product")
def update_product(
    product_id: PathId, body: ProductUpdate, session: SessionDep, principal: ManagerDep
) -> ProductOut:
    return ProductOut.model_validate(
        service.update_product(session, principal.merchant_id, product_id, body)
    )


def orders_out(session: Session, orders: list[Order]) -> list[OrderOut]:
    """Orders with their lines and refunds, loaded in two queries."""
    ids = [o.id for o in orders]
    lines = service.order_lines(session, ids)
    refunds = service.order_refunds(session, ids)
    out = []
    for o in orders:
        item = OrderOut.model_validate(o)
        item.lines = [OrderLineOut.model_validate(ln) for ln in lines[o.id]]
        item.refunds = [
            RefundOut(
                **RefundOut.model_validate(r).model_dump(exclude={"lines"}),
                lines=[RefundLineOut.model_validate(rl) for rl in rls],
            )
            for r, rls in refunds[o.id]
        ]
        out.append(item)
    return out


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=201,
    operation_id="create_order",
    responses=replay_responses(OrderOut),
)
def create_order(
    body: OrderCreate, response: Response, session: SessionDep, principal: ClerkDep
) -> OrderOut:
    order, created = service.create_order(session, principal.merchant_id, body)
    answer_replay(response, not created)
    return orders_out(session, [order])[0]


@router.get("/orders", response_model=Page[OrderOut], operation_id="list_orders")
def list_orders(
    session: SessionDep,
    principal: ClerkDep,
    page: PageDep,
    member_id: QueryId = None,
    store_id: QueryId = None,
    channel: Annotated[str | None, Query(pattern="^(store|online)$")] = None,
    status: OrderStatusName | None = None,
    placed_from: datetime | None = None,
    placed_to: datetime | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    rows = service.list_orders(
        session,
        principal.merchant_id,
        member_id=member_id,
        store_id=store_id,
        channel=channel,
        status=status,
        placed_from=placed_from,
        placed_to=placed_to,
        external_id=external_id,
        limit=page.limit,
        cursor=page.cursor,
    )
    more = len(rows) > page.limit
    items = orders_out(session, rows[: page.limit])
    return {"items": items, "next_cursor": items[-1].id if more and items else None}


@router.get("/orders/{order_id}", response_model=OrderOut, operation_id="get_order")
def get_order(order_id: PathId, session: SessionDep, principal: ClerkDep) -> OrderOut:
    return orders_out(session, [service.get_order(session, principal.merchant_id, order_id)])[0]


@router.post(
    "/orders/{order_id}/refunds",
    response_model=OrderOut,
    status_code=201,
    operation_id="refund_order",
    responses=replay_responses(OrderOut),
)
def refund_order(
    order_id: PathId,
    body: RefundCreate,
    response: Response,
    session: SessionDep,
    principal: ClerkDep,
) -> OrderOut:
    _refund, created = service.refund_order(session, principal.merchant_id, order_id, body)
    answer_replay(response, not created)
    return orders_out(session, [service.get_order(session, principal.merchant_id, order_id)])[0]


@router.get(
    "/members/{member_id}/orders", response_model=Page[OrderOut], operation_id="list_member_orders"
)
def member_orders(
    member_id: PathId, session: SessionDep, principal: ClerkDep, page: PageDep
) -> dict[str, Any]:
    rows = service.member_orders(session, principal.merchant_id, member_id, page.limit, page.cursor)
    more = len(rows) > page.limit
    items = orders_out(session, rows[: page.limit])
    return {"items": items, "next_cursor": items[-1].id if more and items else None}
