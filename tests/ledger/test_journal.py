"""Entries, idempotency, corrections and verify (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from patron.cli import app as cli_app
from patron.core.config import get_settings
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation, Conflict, InvalidInput
from patron.ledger import service as ledger
from patron.ledger.idempotency import idempotent
from patron.ledger.models import Asset, IdempotencyKey, JournalEntry, LedgerAccount, Posting
from patron.ledger.service import Leg
from patron.ledger.verify import verify
from tests.conftest import Tenant
from tests.ledger.helpers import balance, info, make_members, points


def top_up(member_id: int, amount: int) -> list[Leg]:
    return [
        Leg.member(member_id, Asset.STORED_PRINCIPAL, amount),
        Leg.merchant("cash_received", Asset.STORED_PRINCIPAL, -amount),
    ]


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_unbalanced_entry_is_refused(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    legs = [
        Leg.member(m, Asset.STORED_PRINCIPAL, 100),
        Leg.merchant("cash_received", Asset.STORED_PRINCIPAL, -90),
    ]
    with pytest.raises(InvalidInput) as err, transaction(sessions) as s:
        ledger.post_entry(s, tenant.merchant_id, legs, info("top_up", "Top-up"))
    assert err.value.code == "entry_unbalanced"
    assert err.value.details == {"stored_principal": 10}
    with transaction(sessions) as s:
        assert count(s, JournalEntry) == 0


def test_member_points_only_through_lots(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    legs = [Leg.member(m, Asset.POINTS, 5), Leg.merchant("points_issued", Asset.POINTS, -5)]
    with pytest.raises(InvalidInput) as err, transaction(sessions) as s:
        ledger.post_entry(s, tenant.merchant_id, legs, info())
    assert err.value.code == "points_need_lots"


def test_member_of_other_merchant_cannot_be_posted_to(
    sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant
) -> None:
    [theirs] = make_members(sessions, other_tenant.merchant_id, 1)
    with pytest.raises(InvalidInput) as err, transaction(sessions) as s:
        ledger.post_entry(s, tenant.merchant_id, top_up(theirs, 100), info("top_up", "Top-up"))
    assert err.value.code == "member_not_found"


def test_stored_value_spend_cannot_go_below_zero(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.post_entry(s, tenant.merchant_id, top_up(m, 100), info("top_up", "Top-up"))
    spend = [
        Leg.member(m, Asset.STORED_PRINCIPAL, -101),
        Leg.merchant("stored_value_spent", Asset.STORED_PRINCIPAL, 101),
    ]
    with pytest.raises(BusinessRuleViolation) as err, transaction(sessions) as s:
        ledger.post_entry(s, tenant.merchant_id, spend, info("checkout", "Paid with top-up"))
    assert err.value.code == "insufficient_balance"
    with transaction(sessions) as s:
        assert balance(s, m, "stored_principal") == 100
        assert balance(s, None, "stored_value_spent") == 0


def test_same_idempotency_key_same_body_returns_first(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        first = ledger.earn_points(s, tenant.merchant_id, m, 40, info(), idempotency_key="order-1")
    with transaction(sessions) as s:
        again = ledger.earn_points(s, tenant.merchant_id, m, 40, info(), idempotency_key="order-1")
    assert again.replayed and not first.replayed
    assert again.id == first.id
    assert again.postings == first.postings
    with transaction(sessions) as s:
        assert points(s, m) == 40
        assert count(s, JournalEntry) == 1
        entry = s.get(JournalEntry, first.id)
        assert entry is not None and entry.idempotency_key == "order-1"


def test_same_key_different_body_409(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 40, info(), idempotency_key="order-1")
    with pytest.raises(Conflict) as err, transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 41, info(), idempotency_key="order-1")
    assert err.value.code == "idempotency_key_reused"
    assert err.value.status_code == 409
    with transaction(sessions) as s:
        assert points(s, m) == 40
        assert count(s, JournalEntry) == 1


def test_same_key_is_per_merchant(
    sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant
) -> None:
    [a] = make_members(sessions, tenant.merchant_id, 1)
    [b] = make_members(sessions, other_tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, a, 5, info(), idempotency_key="k")
        ledger.earn_points(s, other_tenant.merchant_id, b, 7, info(), idempotency_key="k")
    with transaction(sessions) as s:
        assert (points(s, a), points(s, b)) == (5, 7)


def test_generic_idempotent_block_replays_stored_result(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    runs = []
    for _ in range(2):
        with transaction(sessions) as s, idempotent(s, tenant.merchant_id, "c-1", {"a": 1}) as slot:
            if slot.replay is None:
                runs.append(1)
                slot.save({"order_id": 42})
            else:
                assert slot.replay == {"order_id": 42}
    assert runs == [1]
    with transaction(sessions) as s:
        assert count(s, IdempotencyKey) == 1


def test_correcting_entry_links_original(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        wrong = ledger.post_entry(s, tenant.merchant_id, top_up(m, 1000), info("top_up", "Top-up"))
    fix = [
        Leg.member(m, Asset.STORED_PRINCIPAL, -900),
        Leg.merchant("cash_received", Asset.STORED_PRINCIPAL, 900),
    ]
    with transaction(sessions) as s:
        corrected = ledger.correct_entry(
            s, tenant.merchant_id, wrong.id, fix, info("correction", "Top-up was 100, not 1000")
        )
    with transaction(sessions) as s:
        entry = s.get(JournalEntry, corrected.id)
        assert entry is not None and entry.corrects_entry_id == wrong.id
        original = s.get(JournalEntry, wrong.id)
        assert original is not None and original.description == "Top-up"  # untouched
        assert balance(s, m, "stored_principal") == 100
        assert verify(s) == []
    with pytest.raises(Exception), transaction(sessions) as s:  # noqa: B017
        ledger.correct_entry(s, tenant.merchant_id, 999_999, fix, info("correction", "x"))


def test_verify_detects_tampered_balance(
    engine: Engine,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 50, info())
        account_id = s.scalar(select(LedgerAccount.id).where(LedgerAccount.member_id == m))
    monkeypatch.setenv("PATRON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        ok = runner.invoke(cli_app, ["verify"])
        assert ok.exit_code == 0, ok.output
        assert "ledger verified: 2 accounts, 1 entries, 1 lots, no drift" in ok.output
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE ledger_accounts SET balance = 500 WHERE id = :id"), {"id": account_id}
            )
        with transaction(sessions) as s:
            drifts = verify(s)
        kinds = sorted(d.kind for d in drifts)
        assert kinds == ["account_balance", "points_vs_lots"]
        assert [(d.expected, d.actual) for d in drifts if d.kind == "account_balance"] == [
            (50, 500)
        ]
        bad = runner.invoke(cli_app, ["verify"])
        assert bad.exit_code == 1
        assert f"account {account_id} (member {m} · points): expected 50, found 500" in bad.output
    finally:
        get_settings.cache_clear()


def test_database_refuses_negative_balance(
    engine: Engine, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 50, info())
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE ledger_accounts SET balance = -1 WHERE member_id = :m"), {"m": m})


def test_postgres_refuses_unbalanced_postings_at_commit(
    pg_only_engine: Engine, tenant_pg: Tenant
) -> None:
    factory = sessionmaker(bind=pg_only_engine)
    with factory() as s:
        entry_id = s.execute(
            text(
                "INSERT INTO journal_entries (merchant_id, reason_code, description, actor, "
                "occurred_at) VALUES (:m, 'x', 'x', 'x', now()) RETURNING id"
            ),
            {"m": tenant_pg.merchant_id},
        ).scalar_one()
        account_id = s.execute(
            text(
                "INSERT INTO ledger_accounts (merchant_id, code, asset, balance, allow_negative, "
                "created_at) VALUES (:m, 'x', 'points', 0, true, now()) RETURNING id"
            ),
            {"m": tenant_pg.merchant_id},
        ).scalar_one()
        s.execute(
            text(
                "INSERT INTO ledger_postings (merchant_id, entry_id, account_id, asset, amount, "
                "balance_after) VALUES (:m, :e, :a, 'points', 5, 5)"
            ),
            {"m": tenant_pg.merchant_id, "e": entry_id, "a": account_id},
        )
        with pytest.raises(DBAPIError, match="does not sum to zero"):
            s.commit()
    with factory() as s:
        assert count(s, Posting) == 0
