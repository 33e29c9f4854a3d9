"""Property: any sequence of earn (some pending), release, spend, take back, reverse, expire with
clock jumps and adjustments leaves a ledger that verifies clean after every step, and a refused
step changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.ledger import service as ledger
from patron.ledger.models import Asset, LedgerAccount
from patron.ledger.verify import verify
from tests.conftest import make_tenant
from tests.ledger.helpers import info, make_members

MEMBERS = 3
DAY = timedelta(days=1)
_slugs = itertools.count()

member = st.integers(0, MEMBERS - 1)
operation = st.one_of(
    st.tuples(
        st.just("earn"),
        member,
        st.integers(1, 200),
        st.booleans(),
        st.one_of(st.none(), st.integers(1, 60)),
    ),
    st.tuples(st.just("spend"), member, st.integers(1, 150)),
    st.tuples(st.just("take_back"), st.integers(0, 20), st.integers(1, 120), st.booleans()),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
    st.tuples(st.just("release")),
    st.tuples(st.just("expire")),
    st.tuples(st.just("jump"), st.integers(1, 40)),
    st.tuples(st.just("adjust"), member, st.integers(-300, 300).filter(bool)),
)


def snapshot(session: Session, merchant_id: int) -> dict[int, int]:
    rows = session.execute(
        select(LedgerAccount.id, LedgerAccount.balance).where(
            LedgerAccount.merchant_id == merchant_id
        )
    )
    return {r.id: r.balance for r in rows}


def apply(
    s: Session, op: tuple[Any, ...], merchant_id: int, members: list[int], state: dict[str, Any]
) -> None:
    clock: FrozenClock = state["clock"]
    kind = op[0]
    if kind == "earn":
        _, who, pts, pending, days = op
        now = clock.now()
        posted = ledger.earn_points(
            s,
            merchant_id,
            members[who],
            pts,
            info(),
            available_at=now + 7 * DAY if pending else None,
            expires_at=now + (days + (7 if pending else 0)) * DAY if days else None,
        )
        state["earnings"].append(posted.id)
    elif kind == "spend":
        posted = ledger.spend_points(s, merchant_id, members[op[1]], op[2], info("redeem", "R"))
        state["spends"].append(posted.id)
    elif kind == "take_back" and state["earnings"]:
        entry_id = state["earnings"][op[1] % len(state["earnings"])]
        ledger.take_back_points(
            s, merchant_id, entry_id, op[2], info("refund", "Refund"), allow_debt=op[3]
        )
    elif kind == "reverse" and state["spends"]:
        entry_id = state["spends"][op[1] % len(state["spends"])]
        ledger.reverse_entry(s, merchant_id, entry_id, info("refund", "Refund"))
    elif kind == "release":
        ledger.release_pending_points(s, merchant_id)
    elif kind == "expire":
        ledger.expire_points(s, merchant_id)
    elif kind == "jump":
        clock.advance(op[1] * DAY)
    elif kind == "adjust":
        ledger.adjust_balance(
            s, merchant_id, members[op[1]], Asset.STORED_PRINCIPAL, op[2], info("adjust", "A")
        )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_random_histories_always_verify(
    sessions: sessionmaker[Session], clock: FrozenClock, ops: list[tuple[Any, ...]]
) -> None:
    tenant = make_tenant(sessions, f"prop{next(_slugs)}")
    merchant_id = tenant.merchant_id
    members = make_members(sessions, merchant_id, MEMBERS)
    state: dict[str, Any] = {"clock": clock, "earnings": [], "spends": []}
    for op in ops:
        with transaction(sessions) as s:
            before = snapshot(s, merchant_id)
            try:
                apply(s, op, merchant_id, members, state)
            except PatronError as exc:
                assert exc.status_code in (409, 422), exc
                # a refused step leaves every balance as it was, even in the same transaction
                assert snapshot(s, merchant_id) == before, op
        with transaction(sessions) as s:
            drifts = verify(s, merchant_id)
            assert drifts == [], (op, [str(d) for d in drifts])
