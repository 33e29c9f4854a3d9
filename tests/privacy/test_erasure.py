"""A member's data export and erasure (issue 11, personal data): the export holds everything
with exact values; the erasure leaves no trace of the person, a clean ledger and the merchant's
totals exactly as they were."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

import patron.models
from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory, transaction
from patron.core.events import OutboxEvent
from patron.engagement.messages import enqueue_message
from patron.engagement.models import Message
from patron.imports.models import ImportJob, ImportReject
from patron.ledger import service as ledger
from patron.ledger.models import JournalEntry, Posting
from patron.ledger.verify import verify
from patron.members.models import Member, MemberIdentity
from patron.members.schemas import MemberCreate
from patron.members.service import create_member
from patron.privacy.erase import erase_member
from patron.privacy.export import export_member
from patron.privacy.models import MemberErasure
from patron.privacy.tables import member_column, member_tables
from tests.conftest import Tenant, make_tenant
from tests.ledger.helpers import info
from tests.privacy.helpers import (
    EMAIL,
    FIRST,
    LAST,
    PHONE,
    analytics_figures,
    build_history,
    totals,
    traces,
)
from tests.programs.helpers import typical_program


def test_every_table_naming_a_member_is_in_the_export(
    client: TestClient, sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    """A table added later with a key to members is exported, or this fails."""
    referencing = sorted(
        t.name
        for t in patron.models.Base.metadata.sorted_tables
        if t.name != "members" and any(fk.column.table.name == "members" for fk in t.foreign_keys)
    )
    assert len(referencing) >= 26
    assert sorted(t.name for t in member_tables()) == referencing
    with transaction(sessions) as s:
        member = create_member(s, tenant.merchant_id, MemberCreate(first_name="A")).id
        exported = export_member(s, tenant.merchant_id, member)
    assert set(referencing) <= set(exported["tables"])
    for below in ("order_lines", "refunds", "refund_lines", "ledger_postings", "message_events"):
        assert below in exported["tables"]


def test_export_holds_orders_points_messages_with_exact_values(
    client: TestClient, sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    history = build_history(client, sessions, clock, tenant)
    with transaction(sessions) as s:
        out = export_member(s, m, history.member_id)
    assert out["format"] == "patron.member-export/1"
    profile = out["member"]
    assert (profile["first_name"], profile["last_name"], profile["email"], profile["phone"]) == (
        FIRST,
        LAST,
        EMAIL,
        PHONE,
    )
    assert profile["address"]["line1"] == "77 Quince Lane" and profile["birthday"] == "1990-04-01"
    tables = out["tables"]
    orders = {o["external_id"]: o for o in tables["orders"]}
    assert sorted(orders) == ["Q-1", "Q-2", sorted(orders)[2]]
    assert (orders["Q-1"]["total_minor"], orders["Q-1"]["refunded_minor"]) == (30000, 10000)
    assert orders["Q-2"]["total_minor"] == 120000
    assert len(tables["orders"]) == 3 and len(tables["order_lines"]) == 3
    assert [r["reason"] for r in tables["refunds"]] == [f"{FIRST} changed his mind"]
    # 300 + 1200 points earned, 100 taken back with the refund, 500 spent. Order 3 (50.00, 5%
    # off for gold: 47.50) was paid from the top-up (100.00 + 20.00 bonus, principal first)
    # and earned 47.50 x 1.5 = 71 points, still pending.
    assert orders[sorted(orders)[2]]["total_minor"] == 4750
    assert out["balances"]["points"] == 300 + 1200 - 100 - 500
    assert out["balances"]["points_pending"] == 71
    assert (out["balances"]["stored_principal"], out["balances"]["stored_bonus"]) == (5250, 2000)
    assert [(t["principal_minor"], t["bonus_minor"]) for t in tables["top_ups"]] == [(10000, 2000)]
    assert len(tables["coupon_codes"]) == 1
    messages = sorted(tables["messages"], key=lambda r: r["dedupe_key"])
    assert [r["dedupe_key"] for r in messages] == ["hello-later", "hello-sent"]
    assert messages[1]["content"]["en"]["title"] == f"Hi {FIRST}"
    assert [n["body"] for n in tables["member_notes"]] == [f"{FIRST} prefers oolong; call {PHONE}"]
    assert sorted(t["tag"] for t in tables["member_tags"]) == ["oolong", "vip"]
    assert sorted((i["kind"], i["value"]) for i in tables["member_identities"]) == [
        ("email", EMAIL),
        ("external", "SHOPQZ991"),
        ("phone", PHONE),
    ]
    assert {e["description"] for e in tables["journal_entries"]} >= {
        f"Points paid part of {FIRST}'s gift"
    }
    by_asset: dict[str, int] = {}
    for posting in tables["ledger_postings"]:
        by_asset[posting["asset"]] = by_asset.get(posting["asset"], 0) + posting["amount"]
    assert by_asset["points"] == 900 and by_asset["stored_principal"] == 5250


def test_erasure_leaves_no_trace_and_every_total(
    client: TestClient,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    m = tenant.merchant_id
    history = build_history(client, sessions, clock, tenant)
    before = totals(sessions, m)
    copy = str(tmp_path / "analytics.duckdb")
    figures = analytics_figures(sessions, m, copy)
    assert figures["net_revenue_minor"] == 30000 + 120000 + 4750 + 2 * 5000 - 10000
    with transaction(sessions) as s:
        assert verify(s, m) == []
        assert traces(s) != []  # the scan does see them before
    with transaction(sessions) as s:
        _erasure, erased = erase_member(
            s, m, history.member_id, actor="staff:1", reason=f"request by {FIRST} of 2026-03-01"
        )
        assert erased
    with transaction(sessions) as s:
        assert traces(s) == []
        assert verify(s, m) == []
        member = s.get(Member, history.member_id)
        assert member is not None and member.erased_at == clock.now()
        assert (member.first_name, member.phone, member.email, member.birthday) == (None,) * 4
        assert (member.orders_count, member.total_spent_minor) == (3, 30000 + 120000 + 4750 - 10000)
        record = s.scalars(select(MemberErasure)).one()
        assert (record.actor, record.reason) == ("staff:1", "request by [erased] of 2026-03-01")
        assert record.counts["member_notes"] == 1 and record.counts["member_identities"] == 3
        stopped = s.execute(select(Message.dedupe_key, Message.status, Message.status_reason))
        assert sorted(tuple(r) for r in stopped) == [
            ("hello-later", "skipped", "member_erased"),
            ("hello-sent", "skipped", "member_erased"),
        ]
        erased_events = s.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.type == "member.erased")
        ).all()
        assert erased_events == [
            {"member_id": history.member_id, "erased_at": clock.now().isoformat()}
        ]
        other = s.get(Member, history.other_id)
        assert other is not None and (other.first_name, other.last_name) == ("Li", "Wei")
    assert totals(sessions, m) == before
    assert analytics_figures(sessions, m, copy) == figures  # the copy synced after the erasure
    # Again: nothing changes, the first record answers.
    with transaction(sessions) as s:
        again, erased = erase_member(s, m, history.member_id, actor="staff:2", reason="twice")
        assert not erased and again.actor == "staff:1"
        assert len(s.scalars(select(MemberErasure)).all()) == 1
    # The phone and email are free for a new member.
    with transaction(sessions) as s:
        new = create_member(s, m, MemberCreate(first_name="New", phone=PHONE, email=EMAIL))
        holders = s.scalars(
            select(MemberIdentity.member_id).where(MemberIdentity.value.in_([PHONE, EMAIL]))
        ).all()
        assert holders == [new.id, new.id]


def test_journal_entries_change_only_their_words_on_postgresql(
    pg_only_engine: Engine, clock: FrozenClock
) -> None:
    """An erasure may anonymise an entry's description and note; nothing else of it moves."""
    sessions = make_session_factory(pg_only_engine, clock)
    tenant = make_tenant(sessions, "alpha")
    with transaction(sessions) as s:
        member = create_member(s, tenant.merchant_id, MemberCreate(first_name="A")).id
        entry = ledger.earn_points(s, tenant.merchant_id, member, 100, info()).id
    with transaction(sessions) as s:
        s.execute(
            update(JournalEntry)
            .where(JournalEntry.id == entry)
            .values(description="Points for [erased]", note=None)
        )
    for change in (
        update(JournalEntry).where(JournalEntry.id == entry).values(reason_code="other"),
        update(Posting).where(Posting.entry_id == entry).values(amount=1),
    ):
        with pytest.raises(IntegrityError, match="immutable"), transaction(sessions) as s:
            s.execute(change)
    with transaction(sessions) as s:
        row = s.get(JournalEntry, entry)
        assert row is not None and (row.description, row.reason_code) == (
            "Points for [erased]",
            "purchase",
        )
        assert sorted(s.scalars(select(Posting.amount).where(Posting.entry_id == entry))) == [
            -100,
            100,
        ]


def test_two_erasures_at_once_make_one_record_on_postgresql(
    pg_only_engine: Engine, clock: FrozenClock
) -> None:
    sessions = make_session_factory(pg_only_engine, clock)
    tenant = make_tenant(sessions, "alpha")
    with transaction(sessions) as s:
        member = create_member(
            s, tenant.merchant_id, MemberCreate(first_name="Ada", phone="+8613800000005")
        ).id
    start = threading.Barrier(2)

    def erase(actor: str) -> bool:
        start.wait()
        with transaction(sessions) as s:
            return erase_member(s, tenant.merchant_id, member, actor=actor, reason="asked")[1]

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(erase, ["staff:1", "staff:2"]))
    assert results == [False, True]
    with transaction(sessions) as s:
        assert len(s.scalars(select(MemberErasure)).all()) == 1
        assert (
            len(s.scalars(select(OutboxEvent).where(OutboxEvent.type == "member.erased")).all())
            == 1
        )


def test_a_chinese_name_leaves_no_trace_either(
    client: TestClient, sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    """One-character names, stored JSON-escaped on SQLite (\\u738b): found and replaced too."""
    m = tenant.merchant_id
    typical_program(sessions, m)
    made = client.post(
        "/api/v1/members",
        headers=tenant.headers,
        json={"first_name": "芳", "last_name": "王", "phone": "+8613700001111"},
    )
    assert made.status_code == 201, made.text
    member = made.json()["id"]
    committed = client.post(
        "/api/v1/checkout/commit",
        headers={**tenant.clerk_headers, "Idempotency-Key": "c-zh"},
        json={
            "phone": "13700001111",
            "lines": [{"name": "龙井", "quantity": 1, "unit_price_minor": 9900}],
        },
    )
    assert committed.status_code == 201, committed.text
    with transaction(sessions) as s:
        enqueue_message(
            s,
            m,
            member,
            "in_app",
            topic="service",
            kind="transactional",
            dedupe_key="zh",
            content={"zh_Hans": {"title": "王芳，您好", "body": "感谢王芳的光临"}},
        )
    strings = ("王", "芳", "13700001111")
    with transaction(sessions) as s:
        before = traces(s, strings)
        assert ("idempotency_keys", "result", "王") in before
        assert ("outbox_events", "payload", "芳") in before
    revenue = totals(sessions, m)
    with transaction(sessions) as s:
        erase_member(s, m, member, actor="staff:1", reason="本人申请")
    with transaction(sessions) as s:
        assert traces(s, strings) == []
        assert verify(s, m) == []
        kept = s.scalars(select(Message.content).where(Message.dedupe_key == "zh")).one()
        assert kept == {"zh_Hans": {"title": "[erased]，您好", "body": "感谢[erased]的光临"}}
    assert totals(sessions, m) == revenue


def test_import_reject_rows_naming_the_member_are_anonymised(
    sessions: sessionmaker[Session], clock: FrozenClock, tenant: Tenant
) -> None:
    m = tenant.merchant_id
    with transaction(sessions) as s:
        member = create_member(
            s, m, MemberCreate(first_name="Ada", phone="+8613800000005", email="ada@example.com")
        ).id
        job = ImportJob(
            merchant_id=m,
            kind="customers",
            format="generic",
            encoding="utf-8",
            filename="customers.csv",
            size_bytes=100,
            status="done",
            created_at=clock.now(),
        )
        s.add(job)
        s.flush()
        for line, cells in (
            (3, ["c-9", "Ada", "ada@example.com", "13800000005"]),
            (4, ["c-10", "Bob", "bob@example.com", "13800000006"]),
        ):
            s.add(
                ImportReject(
                    merchant_id=m,
                    job_id=job.id,
                    line=line,
                    reason={"code": "identity_taken"},
                    rows=[[line, cells]],
                )
            )
    with transaction(sessions) as s:
        erase_member(s, m, member, actor="staff:1", reason="asked")
    with transaction(sessions) as s:
        rows = s.scalars(select(ImportReject.rows).order_by(ImportReject.line)).all()
        assert rows == [
            [[3, ["c-9", "[erased]", "[erased]", "[erased]"]]],
            [[4, ["c-10", "Bob", "bob@example.com", "13800000006"]]],
        ]
        assert s.scalars(select(MemberErasure.counts)).one()["import_rejects"] == 1


def test_the_member_column_is_the_key_to_the_members_id() -> None:
    """A key to a member is (member_id, merchant_id) → members (id, merchant_id) (ADR 0060): the
    column that names the member is the one referring to ``members.id``, never merchant_id."""
    named = {t.name: member_column(t).name for t in member_tables()}
    assert set(named.values()) == {"member_id"}
    assert len(named) >= 26
