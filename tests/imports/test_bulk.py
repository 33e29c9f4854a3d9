"""BulkWriter on both databases: members and orders by batch, idempotent re-writes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.core.ids import fingerprint
from patron.imports.bulk import BulkWriter, order_fingerprint
from patron.imports.rows import ImportResult, MemberRow, OrderLineRow, OrderRow, RefundRow
from patron.members.models import Member, MemberIdentity, MemberTag
from patron.orders.models import Order, OrderLine, Refund
from tests.conftest import Tenant

T0 = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


def member(line: int, ext: str | None, email: str | None, phone: str | None = None) -> MemberRow:
    return MemberRow(
        line=line,
        external_id=ext,
        namespace="shopify",
        first_name="Li",
        last_name="Wei",
        email=email,
        phone=phone,
        gender=None,
        birthday=None,
        address=None,
        locale=None,
        tags=["vip"],
        registered_at=None,
        created_at=T0,
        consents={"email": True},
        note=None,
        source="shopify",
    )


def order(
    line: int, ext: str, email: str | None, *, refund: int = 0, discount: int = 0
) -> OrderRow:
    return OrderRow(
        line=line,
        external_id=ext,
        member_external_id=None,
        member_email=email,
        member_phone=None,
        store_code="S1",
        channel="",
        placed_at=T0,
        currency="CNY",
        status="completed",
        order_discount_minor=discount,
        lines=[
            OrderLineRow("TEA-1", "Green tea", "tea", 2, 4500, 0),
            OrderLineRow(None, "Cup", None, 1, 1000, 100),
        ],
        refunds=[RefundRow(f"{ext}-r1", T0, refund, None)] if refund else [],
        source="import",
    )


def write_orders(
    sessions: sessionmaker[Session], tenant: Tenant, rows: list[OrderRow]
) -> ImportResult:
    result = ImportResult("orders")
    with transaction(sessions) as s:
        BulkWriter(s, tenant.merchant_id, "import").write_orders(rows, result)
    return result


def test_orders_create_members_and_replay_changes_nothing(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    rows = [
        order(2, "1001", "a@example.com"),
        order(4, "1002", "a@example.com", refund=2000, discount=500),
        order(6, "1003", "b@example.com", refund=9900),
        order(8, "1004", None),
    ]
    result = write_orders(sessions, tenant, rows)
    assert result.counts() == {
        "read": 4,
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "members_created": 2,
        "lines_written": 8,
    }
    members = db.scalars(select(Member).order_by(Member.email)).all()
    assert [(m.email, m.orders_count, m.total_spent_minor) for m in members] == [
        ("a@example.com", 2, 9900 + (9900 - 500 - 2000)),
        ("b@example.com", 0, 0),
    ]
    assert members[0].first_order_at == T0
    statuses = dict(db.execute(select(Order.external_id, Order.status)).all())
    assert statuses == {
        "1001": "completed",
        "1002": "partially_refunded",
        "1003": "refunded",
        "1004": "completed",
    }
    assert db.scalar(select(func.count()).select_from(Refund)) == 2
    db.rollback()
    again = write_orders(sessions, tenant, rows)
    assert (again.created, again.unchanged, again.rejected) == (0, 4, 0)
    changed = order(2, "1001", "a@example.com", discount=1)
    third = write_orders(sessions, tenant, [changed])
    assert [r.reason for r in third.rejects] == ["order 1001 exists with different content"]
    assert db.scalar(select(func.count()).select_from(Order)) == 4
    assert db.scalar(select(func.count()).select_from(OrderLine)) == 8


def test_bad_orders_are_rejected_with_reasons(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    negative = order(2, "2001", None, discount=20000)
    wrong_store = order(4, "2002", None)
    wrong_store.store_code = "NOPE"
    too_much_refund = order(6, "2003", None, refund=10000)
    result = write_orders(sessions, tenant, [negative, wrong_store, too_much_refund])
    assert [(r.line, r.reason) for r in result.rejects] == [
        (2, "order discount is larger than the subtotal"),
        (4, "unknown store code 'NOPE'"),
        (6, "refunds (10000) exceed the order total (9900)"),
    ]
    assert db.scalar(select(func.count()).select_from(Order)) == 0


def test_members_created_updated_unchanged_and_conflicts(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    rows = [member(2, "c1", "a@example.com"), member(3, "c2", "b@example.com")]
    result = ImportResult("members")
    with transaction(sessions) as s:
        BulkWriter(s, tenant.merchant_id, "shopify").write_members(rows, result)
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    stamps = dict(db.execute(select(Member.email, Member.updated_at)).all())
    db.rollback()
    changed = member(2, "c1", "a@example.com")
    changed.last_name = "Wang"
    conflict = member(4, "c2", "a@example.com")
    result = ImportResult("members")
    with transaction(sessions) as s:
        BulkWriter(s, tenant.merchant_id, "shopify").write_members(
            [changed, member(3, "c2", "b@example.com"), conflict], result
        )
    assert (result.created, result.updated, result.unchanged, result.rejected) == (0, 1, 1, 1)
    # The row is shopify customer c2 (its strongest identity); the email is somebody else's.
    assert result.rejects[0].reason == (
        "email a@example.com belongs to another member "
        f"(#{db.scalar(select(Member.id).where(Member.email == 'a@example.com'))})"
    )
    assert (
        db.scalar(select(Member.updated_at).where(Member.email == "b@example.com"))
        == stamps["b@example.com"]
    )
    assert db.scalar(select(Member.last_name).where(Member.email == "a@example.com")) == "Wang"
    assert db.scalar(select(func.count()).select_from(MemberIdentity)) == 4
    assert db.scalar(select(func.count()).select_from(MemberTag)) == 2


def test_order_fingerprint_is_the_canonical_json_hash_of_earlier_imports() -> None:
    row = order(2, "1002", "a@example.com", refund=2000, discount=500)
    row.member_phone = "+8613812345678"
    body = [
        "1002",
        None,
        "a@example.com",
        "+8613812345678",
        "S1",
        "",
        T0.isoformat(),
        "CNY",
        "completed",
        500,
        [["TEA-1", "Green tea", "tea", 2, 4500, 0], [None, "Cup", None, 1, 1000, 100]],
        [["1002-r1", T0.isoformat(), 2000]],
    ]
    assert order_fingerprint(row) == fingerprint(body)
