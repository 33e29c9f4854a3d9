"""PostgreSQL only: ten check-ins (or ten events) of one member at once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory, transaction
from patron.ledger.models import JournalEntry
from patron.ledger.verify import verify
from patron.programs.config import Kind
from patron.programs.rules import put_rule
from patron.rewards import actions, checkin
from patron.rewards.models import MemberAction, MemberCheckIn
from tests.conftest import Tenant, make_tenant
from tests.ledger.helpers import make_members, points
from tests.ledger.test_concurrency import run_together
from tests.rewards.helpers import ACTIONS, CHECK_IN


@pytest.fixture
def pg_sessions(pg_only_engine: Engine, clock: FrozenClock) -> sessionmaker[Session]:
    return make_session_factory(pg_only_engine, clock)


@pytest.fixture
def tenant_pg(pg_sessions: sessionmaker[Session]) -> Tenant:
    tenant = make_tenant(pg_sessions, "alpha")
    with transaction(pg_sessions) as s:
        put_rule(s, tenant.merchant_id, Kind.CHECK_IN, CHECK_IN, "test")
        put_rule(s, tenant.merchant_id, Kind.ACTIONS, ACTIONS, "test")
    return tenant


def test_ten_check_ins_at_once_are_one(
    pg_sessions: sessionmaker[Session], tenant_pg: Tenant
) -> None:
    [m] = make_members(pg_sessions, tenant_pg.merchant_id, 1)

    def one() -> str:
        with transaction(pg_sessions) as s:
            checkin.check_in(s, tenant_pg.merchant_id, m)
        return "ok"

    assert Counter(run_together(10, one)) == {"ok": 1, "already_checked_in": 9}
    with transaction(pg_sessions) as s:
        assert s.scalar(select(func.count()).select_from(MemberCheckIn)) == 1
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 1
        assert points(s, m) == 5
        assert verify(s) == []


def test_ten_events_at_once_keep_the_daily_cap(
    pg_sessions: sessionmaker[Session], tenant_pg: Tenant
) -> None:
    [m] = make_members(pg_sessions, tenant_pg.merchant_id, 1)
    ids = iter(range(10))

    def one() -> str:
        event = f"e{next(ids)}"
        with transaction(pg_sessions) as s:
            done = actions.record_action(s, tenant_pg.merchant_id, m, "review_written", event)
            return done.row.refusal or "earned"

    assert Counter(run_together(10, one)) == {"earned": 2, "cap_per_day": 8}
    with transaction(pg_sessions) as s:
        assert points(s, m) == 40
        assert verify(s) == []


def test_the_same_event_ten_times_at_once_earns_once(
    pg_sessions: sessionmaker[Session], tenant_pg: Tenant
) -> None:
    [m] = make_members(pg_sessions, tenant_pg.merchant_id, 1)

    def one() -> str:
        with transaction(pg_sessions) as s:
            done = actions.record_action(s, tenant_pg.merchant_id, m, "review_written", "same")
            return "replayed" if done.replayed else "earned"

    assert Counter(run_together(10, one)) == {"earned": 1, "replayed": 9}
    with transaction(pg_sessions) as s:
        assert s.scalar(select(func.count()).select_from(MemberAction)) == 1
        assert points(s, m) == 20
        assert verify(s) == []
