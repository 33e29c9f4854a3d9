"""Property: random purchases, partial refunds, top-ups, redemptions and clock jumps keep the
ledger clean, no balance below zero except permitted points debt, and refunding every order
returns every member to what top-ups alone gave them (refund policy: debt; no expiry)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.ledger.models import LedgerAccount
from patron.ledger.service import release_pending_points
from patron.ledger.verify import verify
from patron.orders.models import OrderLine
from patron.orders.schemas import RefundCreate, RefundLineIn
from patron.orders.service import refund_order
from patron.programs import stored_value
from tests.conftest import START, make_tenant
from tests.programs.helpers import POINTS, balances, new_member, typical_program

SEQ = itertools.count()
purchase = st.tuples(
    st.just("buy"),
    st.integers(0, 1),
    st.integers(100, 90000),
    st.integers(1, 3),
    st.booleans(),
    st.booleans(),
)
refund = st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 3))
top_up = st.tuples(st.just("top_up"), st.integers(0, 1), st.integers(1000, 60000))
jump = st.tuples(st.just("jump"), st.integers(1, 40))
steps = st.lists(st.one_of(purchase, refund, top_up, jump), min_size=1, max_size=12)


def _check(sessions: sessionmaker[Session], m: int) -> None:
    with transaction(sessions) as s:
        assert verify(s, m) == []
        negative = s.execute(
            select(LedgerAccount.asset, LedgerAccount.balance).where(
                LedgerAccount.merchant_id == m,
                LedgerAccount.member_id.is_not(None),
                LedgerAccount.balance < 0,
            )
        ).all()
        assert all(asset == "points" for asset, _ in negative), negative


def _step(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    m: int,
    members: list[int],
    orders: list[int],
    step: tuple,
    n: int,
) -> None:  # type: ignore[type-arg]
    kind = step[0]
    try:
        with transaction(sessions) as s:
            if kind == "buy":
                _, who, price, qty, use_points, use_stored = step
                req = CommitRequest(
                    member_id=members[who],
                    points="max" if use_points else None,
                    stored_value="max" if use_stored else None,
                    lines=[
                        {"name": "A", "quantity": qty, "unit_price_minor": price},
                        {"name": "B", "quantity": 1, "unit_price_minor": 999},
                    ],
                )
                orders.append(checkout.commit(s, m, req, f"k{n}", "clerk").order_id)
            elif kind == "refund" and orders:
                order = orders[step[1] % len(orders)]
                refund_order(
                    s,
                    m,
                    order,
                    RefundCreate(external_id=f"r{n}", lines=[RefundLineIn(line_no=1, quantity=1)]),
                )
            elif kind == "top_up":
                stored_value.top_up(s, m, members[step[1]], step[2], f"t{n}", "clerk")
            elif kind == "jump":
                clock.advance(timedelta(days=step[1]))
                release_pending_points(s, m)
    except PatronError as exc:
        assert exc.code in {"refund_exceeds_quantity", "nothing_to_refund"}, exc.code


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_random_histories_keep_the_ledger_exact(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    steps: list[tuple],  # type: ignore[type-arg]
) -> None:
    clock.set(START)  # every example starts at the same time, so a replay sees the same history
    m = make_tenant(sessions, f"prop-{next(SEQ)}").merchant_id
    typical_program(
        sessions,
        m,
        points={**POINTS, "expiry": {"mode": "never"}},
        refund_policy={"spent_points": "debt"},
    )
    members = [new_member(sessions, m, phone=f"+86138000001{i:02d}") for i in range(2)]
    orders: list[int] = []
    topped = dict.fromkeys(members, 0)
    for n, step in enumerate(steps):
        before = {mb: balances(sessions, m, mb) for mb in members}
        _step(sessions, clock, m, members, orders, step, n)
        if step[0] == "top_up":
            after = balances(sessions, m, members[step[1]])
            topped[members[step[1]]] = after["stored_principal"] + after["stored_bonus"]
            assert after["stored_principal"] >= before[members[step[1]]]["stored_principal"]
        _check(sessions, m)
    with transaction(sessions) as s:
        for order in orders:
            left = s.scalars(select(OrderLine).where(OrderLine.order_id == order)).all()
            if any(ln.refunded_quantity < ln.quantity for ln in left):
                refund_order(s, m, order, RefundCreate(external_id=f"all-{order}"))
    _check(sessions, m)
    for mb in members:
        b = balances(sessions, m, mb)
        assert b["points"] + b["points_pending"] == 0
        assert b["growth"] == 0
