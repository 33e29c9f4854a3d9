"""PostgreSQL: a refund locks the member before the member's ledger accounts, as a checkout does.

A checkout updates the member's totals (locking the member row) and then posts to the ledger
(locking the accounts); a refund posted to the ledger first and updated the member after, so a
refund and a purchase of the same member could deadlock (the soak saw two in 8,000 purchases).
Here another transaction holds the member row: the refund must wait there, holding no account,
so a third transaction can still take the member's accounts at once (NOWAIT).
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory, transaction
from patron.orders import service as orders
from patron.orders.schemas import RefundCreate
from tests.conftest import make_tenant
from tests.programs.helpers import new_member, typical_program

LINE = [{"name": "Tea", "quantity": 1, "unit_price_minor": 20000}]


def _waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(found)


def test_a_refund_locks_the_member_before_the_ledger(
    pg_only_engine: Engine, clock: FrozenClock
) -> None:
    sessions = make_session_factory(pg_only_engine, clock)
    m = make_tenant(sessions, "alpha").merchant_id
    typical_program(sessions, m)
    member = new_member(sessions, m)
    with transaction(sessions) as s:
        req = CommitRequest(member_id=member, lines=LINE)
        order_id = checkout.commit(s, m, req, "sale-1", "clerk").order_id

    holder = pg_only_engine.connect()
    tx = holder.begin()
    holder.execute(text("SELECT id FROM members WHERE id = :m FOR UPDATE"), {"m": member})
    done: list[object] = []

    def refund() -> None:
        with transaction(sessions) as s:
            done.append(orders.record_refund(s, m, order_id, RefundCreate(external_id="r-1")))

    worker = threading.Thread(target=refund)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not _waiting_on_a_lock(pg_only_engine):
            assert time.monotonic() < deadline, "the refund never waited"
            time.sleep(0.05)
        with pg_only_engine.connect() as other:
            try:
                locked = other.execute(
                    text("SELECT id FROM ledger_accounts WHERE member_id = :m FOR UPDATE NOWAIT"),
                    {"m": member},
                ).all()
            except OperationalError:
                pytest.fail("the refund held the member's ledger accounts while it waited")
            other.rollback()
        assert locked, "the member has ledger accounts"
    finally:
        tx.rollback()
        holder.close()
        worker.join(timeout=30)
    assert len(done) == 1
