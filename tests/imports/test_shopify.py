"""Shopify customer and order exports, on both databases."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.core.events import OutboxEvent
from patron.imports.reading import ImportFileError
from patron.imports.rows import ImportResult
from patron.imports.runner import Format, Kind, run_import
from patron.members.models import Member, MemberConsent, MemberIdentity, MemberNote, MemberTag
from patron.orders.models import Order, OrderLine, Refund
from tests.conftest import Tenant
from tests.imports.fixtures import SHOPIFY_CUSTOMERS, SHOPIFY_CUSTOMERS_LEGACY, SHOPIFY_ORDERS


def run(
    sessions: sessionmaker[Session], tenant: Tenant, kind: Kind, data: str, fmt: Format = "shopify"
) -> ImportResult:
    with transaction(sessions) as s:
        return run_import(s, tenant.merchant_id, kind, io.BytesIO(data.encode()), fmt=fmt)


def count(db: Session, model: type) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_customers_import_good_rows_and_report_bad_ones(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    result = run(sessions, tenant, "customers", SHOPIFY_CUSTOMERS)
    assert (result.read, result.created, result.rejected) == (6, 3, 3)
    assert [(r.line, r.reason.split(" (")[0]) for r in result.rejects] == [
        (4, "not a valid email: 'not-an-email'"),
        (5, "not a valid phone number: '12345'"),
        (7, "Total Spent: not an amount: '12.3.4'"),
    ]
    members = {
        m.email: m
        for m in db.scalars(select(Member).where(Member.merchant_id == tenant.merchant_id))
    }
    mei = members["mei.chen@example.com"]
    assert (mei.first_name, mei.last_name, mei.phone) == ("Mei", "Chen", "+8613812345678")
    assert mei.address == {
        "address1": "1 Nanjing Rd",
        "city": "Shanghai",
        "province": "SH",
        "country": "CN",
        "zip": "200001",
    }
    assert members["tom@example.co.uk"].phone == "+442071234567"
    assert members["quiet@example.com"].first_name is None
    tags = sorted(db.execute(select(MemberTag.tag)).scalars())
    assert tags == ["newsletter", "oolong", "vip"]
    assert db.scalar(select(MemberNote.body)) == "Likes oolong, prefers evening calls"
    consents = sorted(
        db.execute(
            select(MemberConsent.channel, MemberConsent.granted).where(
                MemberConsent.member_id == mei.id
            )
        ).all()
    )
    assert consents == [("email", True), ("sms", True)]
    external = sorted(
        db.execute(
            select(MemberIdentity.namespace, MemberIdentity.value).where(
                MemberIdentity.kind == "external"
            )
        ).all()
    )
    assert external == [("shopify", "7001"), ("shopify", "7002"), ("shopify", "7005")]
    events = db.execute(select(OutboxEvent.type, OutboxEvent.payload)).all()
    assert [e.type for e in events] == ["import.completed"]
    assert events[0].payload["created"] == 3


def test_second_import_of_the_same_file_adds_nothing(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    run(sessions, tenant, "customers", SHOPIFY_CUSTOMERS)
    run(sessions, tenant, "orders", SHOPIFY_ORDERS)
    tables = (
        Member,
        MemberIdentity,
        MemberTag,
        MemberNote,
        MemberConsent,
        Order,
        OrderLine,
        Refund,
    )
    before = [count(db, t) for t in tables]
    stamps = sorted(db.execute(select(Member.id, Member.updated_at)).all())
    db.rollback()
    again = run(sessions, tenant, "customers", SHOPIFY_CUSTOMERS)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 3)
    orders = run(sessions, tenant, "orders", SHOPIFY_ORDERS)
    assert (orders.created, orders.unchanged, orders.rejected) == (0, 5, 1)
    assert [count(db, t) for t in tables] == before
    assert sorted(db.execute(select(Member.id, Member.updated_at)).all()) == stamps


def test_orders_multi_line_refunds_cancelled_and_summaries(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    run(sessions, tenant, "customers", SHOPIFY_CUSTOMERS)
    result = run(sessions, tenant, "orders", SHOPIFY_ORDERS)
    assert (result.read, result.created, result.rejected, result.members_created) == (6, 5, 1, 1)
    assert [(r.line, r.reason) for r in result.rejects] == [
        (8, "order #1005: Lineitem price: not an amount: '4x.00'")
    ]
    rows = db.execute(
        select(
            Order.external_id,
            Order.status,
            Order.subtotal_minor,
            Order.discount_minor,
            Order.total_minor,
            Order.refunded_minor,
            Order.channel,
            Order.store_id,
        ).order_by(Order.external_id)
    ).all()
    assert [tuple(r) for r in rows] == [
        ("#1001", "completed", 12000, 500, 11500, 0, "online", None),
        ("#1002", "refunded", 4500, 0, 4500, 4500, "online", None),
        ("#1003", "partially_refunded", 13000, 0, 13000, 2000, "online", None),
        ("#1004", "cancelled", 4500, 0, 4500, 0, "online", None),
        ("#1006", "completed", 4500, 0, 4500, 0, "store", tenant.store_id),
    ]
    paid = db.execute(select(OrderLine.paid_minor).order_by(OrderLine.id)).scalars().all()
    assert paid[:2] == [9000 - 375, 3000 - 125]
    summary = {
        m.email: (m.orders_count, m.total_spent_minor, m.funnel_stage)
        for m in db.scalars(select(Member))
    }
    assert summary["mei.chen@example.com"] == (1, 11500, "customer")
    assert summary["tom@example.co.uk"] == (0, 0, "user")
    assert summary["new.buyer@example.com"] == (1, 11000, "customer")
    buyer = db.scalar(select(Member).where(Member.email == "new.buyer@example.com"))
    assert buyer is not None
    assert (buyer.first_name, buyer.last_name) == ("New", "Buyer")
    assert buyer.first_order_at == datetime(2025, 11, 2, 6, 5, tzinfo=UTC)


def test_legacy_customer_export_is_recognised(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    result = run(sessions, tenant, "customers", SHOPIFY_CUSTOMERS_LEGACY)
    assert (result.created, result.rejected) == (1, 0)
    member = db.scalar(select(Member))
    assert member is not None
    assert (member.email, member.phone) == ("lin.zhao@example.com", "+8613900001111")


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("customers", "Name,Mail\nx,y\n", "Shopify customer export: wrong header"),
        ("orders", "Name,Email\n#1,a@b.c\n", "Shopify order export: wrong header, missing"),
        ("orders", "", "Shopify order export: the file is empty"),
    ],
)
def test_wrong_header_changes_nothing(
    sessions: sessionmaker[Session],
    db: Session,
    tenant: Tenant,
    kind: Kind,
    data: str,
    message: str,
) -> None:
    with pytest.raises(ImportFileError) as err:
        run(sessions, tenant, kind, data)
    assert err.value.message.startswith(message)
    assert count(db, Member) == 0
    assert count(db, OutboxEvent) == 0
