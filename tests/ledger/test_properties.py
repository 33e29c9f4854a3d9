"""Property: any sequence of earn (some pending), release, spend, take back, reverse, expire with
clock jumps and adjustments, daily check-ins and rewarded actions (ADR 1320, 1321) leaves a
ledger that verifies clean after every step, a refused step changes nothing, and what check-ins
and actions earned is exactly what a model of streaks, caps and event ids says (SQLite and
PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.ledger import service as ledger
from patron.ledger.models import Asset, JournalEntry, LedgerAccount, PointsLot
from patron.ledger.verify import verify
from patron.programs.config import Kind
from patron.programs.rules import put_rule
from patron.rewards import actions, checkin
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
    st.tuples(st.just("check_in"), member),
    st.tuples(st.just("action"), member, st.integers(0, 6)),
)
# Day 1 earns 2, day 2 earns 4, later days 4; the 3rd day in a row adds 10.
CHECK_IN = {"streak_points": [2, 4], "milestones": [{"day": 3, "points": 10}]}
ACTIONS = {"actions": [{"name": "shared", "label": "Shared", "points": 3, "cap_per_day": 2}]}


def expected_check_in_points(days: list[Any]) -> int:
    """The model: the streak of each day from the days before it, then the setting above."""
    total, streak, last = 0, 0, None
    for day in days:
        streak = streak + 1 if last is not None and (day - last).days == 1 else 1
        last = day
        total += (2 if streak == 1 else 4) + (10 if streak == 3 else 0)
    return total


def reward_lots(s: Session, merchant_id: int, reason: str) -> int:
    """Points first put in lots by entries of ``reason``."""
    found = s.scalar(
        select(func.coalesce(func.sum(PointsLot.amount), 0))
        .join(JournalEntry, JournalEntry.id == PointsLot.entry_id)
        .where(PointsLot.merchant_id == merchant_id, JournalEntry.reason_code == reason)
    )
    return int(found or 0)


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
    elif kind == "check_in":
        row = checkin.check_in(s, merchant_id, members[op[1]])
        state["check_ins"].setdefault(op[1], []).append(row.local_day)
        if row.entry_id is not None:
            state["earnings"].append(row.entry_id)
    elif kind == "action":
        _, who, event = op
        day = checkin.local_today(s, merchant_id)
        owner = state["events"].get(event)
        result = actions.record_action(s, merchant_id, members[who], "shared", f"ev{event}")
        if owner is None:
            state["events"][event] = who
            earned = state["earned_on"].get((who, day), 0)
            assert result.row.earned is (earned < 2)
            if result.row.earned:
                state["earned_on"][(who, day)] = earned + 1
                state["action_points"] += 3
                assert result.row.entry_id is not None
                state["earnings"].append(result.row.entry_id)
        else:  # the same id again: a replay for its member, refused for another
            assert owner == who and result.replayed


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
    state: dict[str, Any] = {
        "clock": clock,
        "earnings": [],
        "spends": [],
        "check_ins": {},
        "events": {},
        "earned_on": {},
        "action_points": 0,
    }
    with transaction(sessions) as s:
        put_rule(s, merchant_id, Kind.CHECK_IN, CHECK_IN, "test")
        put_rule(s, merchant_id, Kind.ACTIONS, ACTIONS, "test")
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
            model = sum(expected_check_in_points(d) for d in state["check_ins"].values())
            assert reward_lots(s, merchant_id, checkin.REASON) == model, op
            assert reward_lots(s, merchant_id, actions.REASON) == state["action_points"], op
