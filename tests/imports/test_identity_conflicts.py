"""Defect 5 (issue 10): an import row never rewrites another member's profile.

A Shopify customer row whose email belonged to a member the merchant already had renamed that
member and replaced their phone ("updated: 1"). The row is customer 9001 of Shopify; the email
is somebody else's: the row is refused with its reason and the member is left exactly as it was.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.imports.rows import ImportResult
from patron.imports.runner import Format, Kind, run_import
from patron.members import service as members
from patron.members.models import (
    ConsentChange,
    FunnelTransition,
    Member,
    MemberConsent,
    MemberIdentity,
    MemberNote,
    MemberTag,
)
from patron.members.schemas import Address, ConsentIn, ExternalId, MemberCreate
from tests.conftest import Tenant

HEADER = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,"
    "Default Address Province Code,Default Address Country Code,Default Address Zip,"
    "Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,"
    "Tax Exempt,Tags"
)


def shopify_row(cid: str, first: str, last: str, email: str, phone: str = "") -> str:
    return (
        f"'{cid},{first},{last},{email},yes,,2 Hill Rd,,Leeds,,GB,LS1,,{phone},no,0.00,0,hi,no,new"
    )


def run(
    sessions: sessionmaker[Session], tenant: Tenant, data: str, fmt: Format = "shopify"
) -> ImportResult:
    kind: Kind = "customers"
    with transaction(sessions) as s:
        return run_import(s, tenant.merchant_id, kind, io.BytesIO(data.encode()), fmt=fmt)


def existing_member(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    first: str = "Mei",
    phone: str = "+8613800138000",
    email: str = "mei@example.com",
    **extra: Any,
) -> int:
    with transaction(sessions) as s:
        return members.create_member(
            s,
            tenant.merchant_id,
            MemberCreate(
                first_name=first,
                last_name="Chen",
                phone=phone,
                email=email,
                gender="female",
                birthday=date(1990, 4, 18),
                address=Address(line1="1 Nanjing Rd", city="Shanghai", country="CN"),
                locale="zh_Hans",
                tags=["vip"],
                consents=[ConsentIn(channel="email", granted=False)],
                **extra,
            ),
        ).id


def snapshot(db: Session, member_id: int) -> dict[str, Any]:
    """Every stored fact about one member, to prove that nothing changed."""
    db.rollback()
    m = db.get(Member, member_id)
    assert m is not None
    columns = {c.key: getattr(m, c.key) for c in Member.__table__.columns}
    by_member: dict[str, Any] = {}
    for model in (MemberIdentity, MemberTag, MemberNote, MemberConsent, ConsentChange):
        rows = db.scalars(select(model).where(model.member_id == member_id).order_by(model.id))
        by_member[model.__tablename__] = [
            {c.key: getattr(r, c.key) for c in model.__table__.columns} for r in rows
        ]
    moves = db.scalars(
        select(FunnelTransition)
        .where(FunnelTransition.member_id == member_id)
        .order_by(FunnelTransition.id)
    )
    by_member["funnel_transitions"] = [(t.from_stage, t.to_stage, t.moved_at) for t in moves]
    return {"member": columns, **by_member}


def members_count(db: Session) -> int:
    db.rollback()
    return int(db.scalar(select(func.count()).select_from(Member)) or 0)


def test_a_row_with_another_members_email_is_refused_and_that_member_unchanged(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    mei = existing_member(sessions, tenant)
    before = snapshot(db, mei)
    assert before["member"]["first_name"] == "Mei"
    data = f"{HEADER}\n{shopify_row('9001', 'Tom', 'Lee', 'mei@example.com', '07911123456')}\n"
    result = run(sessions, tenant, data)
    assert result.counts() == {
        "read": 1,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "members_created": 0,
        "lines_written": 0,
    }
    assert [(r.line, r.reason) for r in result.rejects] == [
        (2, f"email mei@example.com belongs to another member (#{mei})")
    ]
    assert result.rejects[0].rows[0][1][:4] == ["'9001", "Tom", "Lee", "mei@example.com"]
    assert snapshot(db, mei) == before
    assert members_count(db) == 1


def test_a_phone_of_another_member_refuses_a_row_that_is_somebody_else(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    mei = existing_member(sessions, tenant)
    tom = existing_member(
        sessions,
        tenant,
        "Tom",
        "+447911123457",
        "tom@x.co.uk",
        external_ids=[ExternalId(namespace="shopify", value="9001")],
    )
    before = snapshot(db, mei), snapshot(db, tom)
    # Customer 9001 is Tom; the phone in the row is Mei's.
    data = f"{HEADER}\n{shopify_row('9001', 'Tom', 'Chen', 'tom@x.co.uk', '+8613800138000')}\n"
    result = run(sessions, tenant, data)
    assert (result.updated, result.rejected) == (0, 1)
    assert [r.reason for r in result.rejects] == [
        f"phone +8613800138000 belongs to another member (#{mei})"
    ]
    assert (snapshot(db, mei), snapshot(db, tom)) == before


def test_a_second_customer_sharing_an_email_in_the_same_file_is_refused(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    data = (
        f"{HEADER}\n{shopify_row('9001', 'Ann', 'Lee', 'family@example.com')}\n"
        f"{shopify_row('9002', 'Bob', 'Lee', 'family@example.com')}\n"
    )
    result = run(sessions, tenant, data)
    assert (result.created, result.updated, result.rejected) == (1, 0, 1)
    assert [(r.line, r.reason) for r in result.rejects] == [
        (3, "email family@example.com belongs to the customer on line 2")
    ]
    db.rollback()
    assert db.scalars(select(Member.first_name)).all() == ["Ann"]


def test_the_same_person_seen_by_a_new_system_is_linked_not_refused(
    sessions: sessionmaker[Session], db: Session, tenant: Tenant
) -> None:
    """A member known by email (from the till) and the same person's Shopify customer row, with
    nothing that contradicts them: the Shopify id is added to them and the blanks filled."""
    mei = existing_member(sessions, tenant)
    data = f"{HEADER}\n{shopify_row('9001', 'Mei', 'Chen', 'MEI@example.com')}\n"
    result = run(sessions, tenant, data)
    assert (result.created, result.updated, result.rejected) == (0, 1, 0)
    db.rollback()
    ids = db.execute(
        select(MemberIdentity.kind, MemberIdentity.namespace, MemberIdentity.value)
        .where(MemberIdentity.member_id == mei)
        .order_by(MemberIdentity.kind, MemberIdentity.value)
    ).all()
    assert ("external", "shopify", "9001") in ids
    m = db.get(Member, mei)
    assert m is not None
    assert (m.first_name, m.last_name, m.phone) == ("Mei", "Chen", "+8613800138000")
