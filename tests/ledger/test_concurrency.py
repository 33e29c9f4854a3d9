"""PostgreSQL only: real concurrent tills against one balance, one key."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.ledger import service as ledger
from patron.ledger.models import IdempotencyKey, JournalEntry, PointsAllocation
from patron.ledger.verify import verify
from tests.conftest import Tenant
from tests.ledger.helpers import info, make_members, points


def run_together(n: int, work: object) -> list[str]:
    """Start ``n`` calls of ``work`` at once (a barrier), each in its own thread and session."""
    barrier = threading.Barrier(n)

    def one(_: int) -> str:
        barrier.wait()
        try:
            return str(work())  # type: ignore[operator]
        except PatronError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_50_concurrent_spends_of_30_against_1000(
    pg_sessions: sessionmaker[Session], tenant_pg: Tenant
) -> None:
    [m] = make_members(pg_sessions, tenant_pg.merchant_id, 1)
    with transaction(pg_sessions) as s:
        ledger.earn_points(s, tenant_pg.merchant_id, m, 600, info())
        ledger.earn_points(s, tenant_pg.merchant_id, m, 400, info())

    def spend() -> str:
        with transaction(pg_sessions) as s:
            ledger.spend_points(s, tenant_pg.merchant_id, m, 30, info("redeem", "Redeemed"))
        return "ok"

    outcomes = Counter(run_together(50, spend))
    assert outcomes == {"ok": 33, "insufficient_balance": 17}
    with transaction(pg_sessions) as s:
        assert points(s, m) == 10
        spent = s.scalar(select(func.sum(PointsAllocation.amount)))
        assert spent == 990
        assert verify(s) == []


def test_same_idempotent_post_20_times_concurrently_is_one_entry(
    pg_sessions: sessionmaker[Session], tenant_pg: Tenant
) -> None:
    [m] = make_members(pg_sessions, tenant_pg.merchant_id, 1)

    def earn() -> int:
        with transaction(pg_sessions) as s:
            posted = ledger.earn_points(
                s, tenant_pg.merchant_id, m, 70, info(), idempotency_key="order-77"
            )
        return posted.id

    outcomes = Counter(run_together(20, earn))
    assert len(outcomes) == 1 and sum(outcomes.values()) == 20  # every caller got the same entry
    with transaction(pg_sessions) as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == 1
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
        assert points(s, m) == 70
        assert verify(s) == []


def test_spends_and_refunds_across_members_do_not_deadlock(
    pg_sessions: sessionmaker[Session], tenant_pg: Tenant
) -> None:
    members = make_members(pg_sessions, tenant_pg.merchant_id, 4)
    earnings = {}
    with transaction(pg_sessions) as s:
        for m in members:
            earnings[m] = ledger.earn_points(s, tenant_pg.merchant_id, m, 500, info()).id
    counter = iter(range(1000))
    lock = threading.Lock()

    def mixed() -> str:
        with lock:
            i = next(counter)
        m = members[i % 4]
        with transaction(pg_sessions) as s:
            if i % 5 == 0:
                ledger.take_back_points(
                    s, tenant_pg.merchant_id, earnings[m], 10, info("refund", "Refund")
                )
            else:
                ledger.spend_points(s, tenant_pg.merchant_id, m, 7, info("redeem", "Redeemed"))
        return "ok"

    outcomes = Counter(run_together(40, mixed))
    assert outcomes == {"ok": 40}
    with transaction(pg_sessions) as s:
        assert sum(points(s, m) for m in members) == 2000 - 8 * 10 - 32 * 7
        assert verify(s) == []
