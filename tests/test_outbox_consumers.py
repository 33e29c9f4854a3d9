"""Outbox consumers read every committed event once, in commit order (ADR 0009).

On PostgreSQL an event id is taken at insert; a transaction holding a lower id can commit after
one holding a higher id. A cursor by id would skip the lower one for ever.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory, transaction
from patron.core.events import ConsumerCursor, OutboxEvent, consume_outbox, emit
from tests.conftest import PG_ADMIN_URL, Tenant, make_tenant


@pytest.fixture
def pg_sessions(pg_only_engine: Engine, clock: FrozenClock) -> sessionmaker[Session]:
    return make_session_factory(pg_only_engine, clock)


@pytest.fixture
def pg_merchant(pg_sessions: sessionmaker[Session]) -> int:
    return make_tenant(pg_sessions, "alpha").merchant_id


def _drain(sessions: sessionmaker[Session], seen: list[str]) -> int:
    def handle(events: list[OutboxEvent]) -> None:
        seen.extend(str(e.payload["n"]) for e in events)

    with transaction(sessions) as s:
        return consume_outbox(s, "test-consumer", handle)


def _cursor(sessions: sessionmaker[Session]) -> tuple[int, int] | None:
    with transaction(sessions) as s:
        row = s.get(ConsumerCursor, "test-consumer")
        return None if row is None else (row.last_event_id, row.last_tx_id)


def test_events_come_in_commit_order_and_once(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    for n in ("a", "b"):
        with transaction(sessions) as s:
            emit(s, tenant.merchant_id, "member.updated", {"n": n})
    seen: list[str] = []
    assert _drain(sessions, seen) == 2
    assert seen == ["a", "b"]
    assert _drain(sessions, seen) == 0
    with transaction(sessions) as s:
        emit(s, tenant.merchant_id, "member.updated", {"n": "c"})
    assert _drain(sessions, seen) == 1
    assert seen == ["a", "b", "c"]


@pytest.mark.postgres
def test_a_lower_id_committed_late_is_not_skipped(
    pg_sessions: sessionmaker[Session], pg_merchant: int, request: pytest.FixtureRequest
) -> None:
    sessions = pg_sessions
    early = sessions()  # takes the lower id, commits last
    request.addfinalizer(early.close)
    first = emit(early, pg_merchant, "member.updated", {"n": "early"})
    early.flush()
    with transaction(sessions) as s:  # takes the higher id, commits first
        second = emit(s, pg_merchant, "member.updated", {"n": "late"})
    assert first.id < second.id

    seen: list[str] = []
    # While the early transaction is open, nothing is read and the cursor stays at the start.
    assert _drain(sessions, seen) == 0
    assert seen == []
    assert _cursor(sessions) == (0, 0)

    early.commit()
    early.close()
    assert _drain(sessions, seen) == 2
    assert seen == ["early", "late"]  # commit order is transaction order here
    assert _drain(sessions, seen) == 0
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(OutboxEvent)) == 2


@pytest.mark.postgres
def test_an_open_transaction_in_another_database_does_not_hold_consumers(
    pg_sessions: sessionmaker[Session], pg_merchant: int
) -> None:
    sessions = pg_sessions
    with psycopg.connect(PG_ADMIN_URL) as other:  # the server's "postgres" database
        assert other.execute("SELECT txid_current()").fetchone() is not None  # holds an id
        with transaction(sessions) as s:
            emit(s, pg_merchant, "member.updated", {"n": "x"})
        seen: list[str] = []
        assert _drain(sessions, seen) == 1
        assert seen == ["x"]
        other.rollback()


@pytest.mark.postgres
def test_a_rolled_back_writer_leaves_nothing_behind(
    pg_sessions: sessionmaker[Session], pg_merchant: int, request: pytest.FixtureRequest
) -> None:
    sessions = pg_sessions
    gone = sessions()
    request.addfinalizer(gone.close)
    emit(gone, pg_merchant, "member.updated", {"n": "gone"})
    gone.flush()
    with transaction(sessions) as s:
        emit(s, pg_merchant, "member.updated", {"n": "kept"})
    seen: list[str] = []
    assert _drain(sessions, seen) == 0
    gone.rollback()
    gone.close()
    assert _drain(sessions, seen) == 1
    assert seen == ["kept"]
