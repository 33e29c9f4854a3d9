"""Generic format, export → import round trip, the API and tenancy, on both databases."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.imports.export import members_csv, orders_csv
from patron.members.models import Member, MemberTag
from patron.orders.models import Order, OrderLine
from tests.conftest import Tenant
from tests.imports.fixtures import SHOPIFY_CUSTOMERS, SHOPIFY_ORDERS
from tests.imports.test_shopify import run

GENERIC_ORDERS = """\
order_id,placed_at,member_id,member_email,member_phone,store_code,channel,currency,status,\
order_discount,refunded_amount,refunded_at,sku,name,category,quantity,unit_price,line_discount
A-1,2025-06-01T10:00:00+08:00,c-1,ann@example.com,,S1,,,completed,1.00,,,TEA-1,Oolong,tea,2,45.00,
A-1,,,,,,,,,,,,CUP-1,Cup,ware,1,30.00,0.50
A-2,2025-06-02 09:30:00,,,13812345678,,online,CNY,,,10.00,2025-06-03T00:00:00Z,,Gift box,,1,88.00,
A-3,2025-06-02T09:30:00+08:00,,,,,,,completed,,,,,Bag,,0,10.00,
A-4,yesterday,,,,,,,,,,,,Bag,,1,10.00,
,2025-06-02T09:30:00+08:00,,,,,,,,,,,,Bag,,1,10.00,
A-5,2025-06-02T09:30:00+08:00,,,,,,USD,,,,,,Bag,,1,10.00,
A-6,2025-06-02T09:30:00+08:00,,,,,,,,,,,,Bag,,1,10.001,
"""


def snapshot(db: Session, merchant_id: int) -> dict[str, object]:
    members = db.execute(
        select(
            Member.first_name,
            Member.last_name,
            Member.email,
            Member.phone,
            Member.address,
            Member.orders_count,
            Member.total_spent_minor,
            Member.funnel_stage,
            Member.first_order_at,
        )
        .where(Member.merchant_id == merchant_id)
        .order_by(Member.email, Member.phone)
    ).all()
    orders = db.execute(
        select(
            Order.external_id,
            Order.status,
            Order.placed_at,
            Order.subtotal_minor,
            Order.discount_minor,
            Order.total_minor,
            Order.refunded_minor,
            Order.channel,
        )
        .where(Order.merchant_id == merchant_id)
        .order_by(Order.external_id)
    ).all()
    lines = db.execute(
        select(
            Order.external_id,
            OrderLine.line_no,
            OrderLine.sku,
            OrderLine.name,
            OrderLine.quantity,
            OrderLine.unit_price_minor,
            OrderLine.discount_minor,
            OrderLine.paid_minor,
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.merchant_id == merchant_id)
        .order_by(Order.external_id, OrderLine.line_no)
    ).all()
    tags = db.execute(
        select(Member.email, MemberTag.tag)
        .join(Member, Member.id == MemberTag.member_id)
        .where(Member.merchant_id == merchant_id)
        .order_by(Member.email, MemberTag.tag)
    ).all()
    return {
        "members": [tuple(r) for r in members],
        "orders": [tuple(r) for r in orders],
        "lines": [tuple(r) for r in lines],
        "tags": [tuple(r) for r in tags],
    }


def test_generic_orders_good_and_bad_rows(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    result = run(sessions, tenant, "orders", GENERIC_ORDERS, fmt="generic")
    assert (result.read, result.created, result.rejected) == (7, 2, 5)
    # Parse errors are reported as read, rule errors when their batch is written.
    assert sorted((r.line, r.reason) for r in result.rejects) == [
        (5, "line 1: quantity must be positive, not 0"),
        (6, "order A-4: placed_at: not a date and time: 'yesterday'"),
        (7, "order_id is empty"),
        (8, "currency USD is not the shop's currency CNY"),
        (9, "order A-6: unit_price: '10.001' has more than 2 decimals"),
    ]
    orders = {o.external_id: o for o in db.scalars(select(Order))}
    assert (orders["A-1"].total_minor, orders["A-1"].store_id) == (11850, tenant.store_id)
    assert (orders["A-2"].status, orders["A-2"].refunded_minor) == ("partially_refunded", 1000)
    ann = db.scalar(select(Member).where(Member.email == "ann@example.com"))
    assert ann is not None and ann.total_spent_minor == 11850
    assert db.scalar(select(Member.phone).where(Member.email.is_(None))) == "+8613812345678"


def test_export_reimports_into_another_merchant_with_equal_data(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant, other_tenant: Tenant
) -> None:
    run(sessions, tenant, "customers", SHOPIFY_CUSTOMERS)
    run(sessions, tenant, "orders", SHOPIFY_ORDERS)
    run(sessions, tenant, "orders", GENERIC_ORDERS, fmt="generic")
    with transaction(sessions) as s:
        members = "".join(members_csv(s, tenant.merchant_id))
        orders = "".join(orders_csv(s, tenant.merchant_id))
    first = run(sessions, other_tenant, "customers", members, fmt="generic")
    second = run(sessions, other_tenant, "orders", orders, fmt="generic")
    assert (first.rejected, second.rejected, second.members_created) == (0, 0, 0)
    assert snapshot(db, other_tenant.merchant_id) == snapshot(db, tenant.merchant_id)
    # and the export of the copy is the export of the original
    with transaction(sessions) as s:
        assert "".join(members_csv(s, other_tenant.merchant_id)) == members
        assert "".join(orders_csv(s, other_tenant.merchant_id)) == orders


def test_api_import_export_and_tenancy(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    upload = {"file": ("orders.csv", io.BytesIO(GENERIC_ORDERS.encode()), "text/csv")}
    clerk = client.post("/api/v1/imports/orders", files=upload, headers=tenant.clerk_headers)
    assert clerk.status_code == 403
    upload = {"file": ("orders.csv", io.BytesIO(GENERIC_ORDERS.encode()), "text/csv")}
    res = client.post("/api/v1/imports/orders?format=generic", files=upload, headers=tenant.headers)
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["created"], body["rejected"]) == (2, 5)
    assert sorted(r["line"] for r in body["rejects"]) == [5, 6, 7, 8, 9]
    bad = {"file": ("x.csv", io.BytesIO(b"a,b\n1,2\n"), "text/csv")}
    res = client.post("/api/v1/imports/customers", files=bad, headers=tenant.headers)
    assert (res.status_code, res.json()["error"]["code"]) == (422, "import_file_invalid")
    mine = client.get("/api/v1/exports/orders.csv", headers=tenant.headers)
    assert mine.status_code == 200
    assert mine.text.count("\n") == 4  # header + A-1 (two lines) + A-2
    theirs = client.get("/api/v1/exports/orders.csv", headers=other_tenant.headers)
    assert theirs.text.count("\n") == 1  # the header only: B sees none of A's orders
    members = client.get("/api/v1/exports/members.csv", headers=other_tenant.headers)
    assert members.text.count("\n") == 1
    assert client.get("/api/v1/exports/members.csv").status_code == 401


def test_api_reads_gbk_and_refuses_what_it_cannot_read(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    gbk = "external_id,email,phone,first_name,last_name\nz-1,,13900001111,悦,周\n".encode("gbk")
    res = client.post(
        "/api/v1/imports/customers?format=auto",
        files={"file": ("客户.csv", io.BytesIO(gbk), "text/csv")},
        headers=tenant.headers,
    )
    assert (res.status_code, res.json()["created"]) == (200, 1), res.text
    assert db.scalars(select(Member.last_name)).all() == ["周"]
    mixed = "external_id,email,phone,first_name\nz-2,,,Zoë\n".encode() + b"z-3,,,\x80x\n"
    res = client.post(
        "/api/v1/imports/customers?format=generic",
        files={"file": ("mixed.csv", io.BytesIO(mixed), "text/csv")},
        headers=tenant.headers,
    )
    assert res.status_code == 422
    assert res.json()["error"] == {
        "code": "import_file_invalid",
        "message": "the file is neither UTF-8 nor GB18030 (GBK) text: unreadable characters on"
        " line 3. Save it as CSV UTF-8 and try again",
    }
    db.rollback()
    assert db.scalars(select(Member.first_name)).all() == ["悦"]  # nothing of the refused file
