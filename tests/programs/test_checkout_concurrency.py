"""PostgreSQL, real threads: no stored value overspend; one commit for 20 identical sends."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, func, select

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory, transaction
from patron.core.errors import PatronError
from patron.ledger.models import JournalEntry
from patron.orders.models import Order
from patron.programs import stored_value
from patron.programs.models import OrderPayment
from tests.conftest import make_tenant
from tests.programs.helpers import balances, new_member, typical_program

LINE = [{"name": "Tea", "quantity": 1, "unit_price_minor": 2000}]


def _run(n: int, work: Any) -> list[Any]:
    results: list[Any] = [None] * n
    start = threading.Barrier(n)

    def one(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except PatronError as exc:
            results[i] = exc.code

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_checkout_cannot_overspend_stored_value(
    pg_only_engine: Engine, clock: FrozenClock
) -> None:
    sessions = make_session_factory(pg_only_engine, clock)
    m = make_tenant(sessions, "alpha").merchant_id
    typical_program(sessions, m)
    member = new_member(sessions, m)
    with transaction(sessions) as s:
        stored_value.top_up(s, m, member, 5000, "t", "clerk")  # no bonus below 100.00

    def commit(i: int) -> int:
        req = CommitRequest(member_id=member, stored_value=2000, lines=LINE)
        with transaction(sessions) as s:
            return checkout.commit(s, m, req, f"k-{i}", "clerk").order_id

    results = _run(8, commit)
    assert sum(isinstance(r, int) for r in results) == 2
    assert {r for r in results if not isinstance(r, int)} == {"insufficient_balance"}
    assert balances(sessions, m, member)["stored_principal"] == 1000
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 2


def test_same_commit_twice_one_entry(pg_only_engine: Engine, clock: FrozenClock) -> None:
    sessions = make_session_factory(pg_only_engine, clock)
    m = make_tenant(sessions, "alpha").merchant_id
    typical_program(sessions, m)
    member = new_member(sessions, m)
    with transaction(sessions) as s:
        stored_value.top_up(s, m, member, 5000, "t", "clerk")
    req = CommitRequest(member_id=member, stored_value=2000, lines=LINE)

    def commit(i: int) -> int:
        with transaction(sessions) as s:
            return checkout.commit(s, m, req, "same-key", "clerk").order_id

    results = _run(20, commit)
    assert len(set(results)) == 1 and isinstance(results[0], int)
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert s.scalar(select(func.count()).select_from(OrderPayment)) == 1
        assert (
            s.scalar(
                select(func.count())
                .select_from(JournalEntry)
                .where(JournalEntry.object_type == "order")
            )
            == 1
        )  # one entry: the whole purchase (ADR 0373)
    assert balances(sessions, m, member)["stored_principal"] == 3000
