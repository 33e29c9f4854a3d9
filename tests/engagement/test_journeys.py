"""Journeys: each step once over clock advances, exit on purchase, crash safety, re-entry,
late entry, and two workers on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory, transaction
from patron.core.events import OutboxEvent, emit
from patron.engagement.journeys import engine, service, triggers
from patron.engagement.journeys.models import Journey, JourneyEnrolment
from patron.engagement.models import Message
from patron.orders.schemas import OrderCreate, OrderLineIn
from patron.orders.service import create_order
from tests.conftest import START, Tenant, make_tenant
from tests.engagement.conftest import add_member


def msg(step_id: str) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "send",
        "channel": "in_app",
        "kind": "care",
        "topic": "welcome",
        "content": {"en": {"title": step_id, "body": "x"}},
    }


def make_journey(
    sessions: sessionmaker[Session], tenant: Tenant, steps: list[dict[str, Any]], **extra: Any
) -> int:
    definition = {"trigger": {"event": "member.created"}, "steps": steps, **extra}
    with transaction(sessions) as s:
        journey = service.create_journey(s, tenant.merchant_id, "J", definition)
        service.switch(s, tenant.merchant_id, journey.id, True)
        return journey.id


def enter(sessions: sessionmaker[Session], journey_id: int, member: int, reason: str = "r") -> bool:
    with transaction(sessions) as s:
        journey = s.get_one(Journey, journey_id)
        return engine.enrol(s, journey, member, reason)


def run(sessions: sessionmaker[Session]) -> int:
    total = 0
    while (done := engine.run_due(sessions)) > 0:
        total += done
    return total


def sent(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    with sessions() as s:
        return sorted(s.execute(select(Message.member_id, Message.dedupe_key)).all())


def enrolment(sessions: sessionmaker[Session]) -> JourneyEnrolment:
    with sessions() as s:
        return s.scalars(select(JourneyEnrolment)).one()


WELCOME = [
    msg("hello"),
    {"id": "w1", "type": "wait", "days": 2},
    msg("tips"),
    {"id": "w2", "type": "wait", "days": 3},
    msg("visit"),
]


def test_welcome_series_each_step_once_over_clock_advances(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    make_journey(sessions, tenant, WELCOME)
    with transaction(sessions) as s:
        emit(s, tenant.merchant_id, "member.created", {"id": member}, subject_id=member)
    with transaction(sessions) as s:
        assert triggers.follow_events(s) == 1
    with transaction(sessions) as s:  # the same event again (a second read) enrols nobody new
        assert triggers.enrol_from_events(s, [_event(s)]) == 0
    run(sessions)
    e = enrolment(sessions)
    assert [m[1] for m in sent(sessions)] == [f"journey:{e.id}:hello"]
    clock.advance(timedelta(days=1))
    assert run(sessions) == 0
    clock.advance(timedelta(days=1))
    run(sessions)
    clock.advance(timedelta(days=3))
    run(sessions)
    clock.advance(timedelta(days=30))
    assert run(sessions) == 0
    e = enrolment(sessions)
    assert sent(sessions) == sorted(
        (member, f"journey:{e.id}:{s}") for s in ("hello", "tips", "visit")
    )
    assert e.status == "completed"
    assert [(h["step"], h["outcome"]) for h in e.history] == [
        ("hello", "done"),
        ("w1", "waited"),
        ("tips", "done"),
        ("w2", "waited"),
        ("visit", "done"),
    ]


def _event(s: Session) -> OutboxEvent:
    return s.scalars(select(OutboxEvent)).one()


def _buy(sessions: sessionmaker[Session], tenant: Tenant, member: int) -> None:
    with transaction(sessions) as s:
        create_order(
            s,
            tenant.merchant_id,
            OrderCreate(
                external_id="o1",
                member_id=member,
                lines=[OrderLineIn(sku="tea", name="Tea", quantity=1, unit_price_minor=100)],
            ),
        )


def test_exit_on_purchase_before_the_next_step(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    journey_id = make_journey(sessions, tenant, WELCOME, exit_rule={"purchase": True})
    assert enter(sessions, journey_id, member)
    run(sessions)
    clock.advance(timedelta(hours=5))
    _buy(sessions, tenant, member)
    clock.advance(timedelta(days=2))
    run(sessions)
    e = enrolment(sessions)
    assert (e.status, [m[1] for m in sent(sessions)]) == ("exited", [f"journey:{e.id}:hello"])
    assert e.history[-1]["reason"] == "made a purchase"


def test_crash_after_the_effect_before_commit_retries_and_sends_once(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    journey_id = make_journey(sessions, tenant, [msg("hello")])
    assert enter(sessions, journey_id, member)
    real = engine.record_step
    crashes = []

    def crash_once(*args: Any) -> None:
        real(*args)
        if not crashes:
            crashes.append(1)
            raise RuntimeError("power cut")  # the message is enqueued in this transaction

    monkeypatch.setattr(engine, "record_step", crash_once)
    assert engine.run_due(sessions) == 0
    assert sent(sessions) == []
    assert enrolment(sessions).attempts == 1
    clock.advance(timedelta(minutes=1))
    run(sessions)
    e = enrolment(sessions)
    assert sent(sessions) == [(member, f"journey:{e.id}:hello")]
    assert e.status == "completed"


@pytest.mark.parametrize(
    ("reentry", "days", "expected"),
    [("once", None, [True, False, False]), ("per_key", None, [True, False, True])],
)
def test_reentry_rules(
    sessions: sessionmaker[Session],
    tenant: Tenant,
    reentry: str,
    days: int | None,
    expected: list[bool],
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    journey_id = make_journey(sessions, tenant, [msg("hello")], reentry=reentry, reentry_days=days)
    got = [enter(sessions, journey_id, member, r) for r in ("order:1", "order:1", "order:2")]
    assert got == expected


def test_reentry_after_days(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    journey_id = make_journey(
        sessions, tenant, [msg("hello")], reentry="after_days", reentry_days=30
    )
    assert enter(sessions, journey_id, member, "a")
    clock.advance(timedelta(days=29))
    assert not enter(sessions, journey_id, member, "b")
    clock.advance(timedelta(days=2))
    assert enter(sessions, journey_id, member, "c")


def test_late_worker_skips_missed_sends_and_measures_waits_from_the_run(
    sessions: sessionmaker[Session], tenant: Tenant, clock: FrozenClock
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    steps = [{"id": "w0", "type": "wait", "hours": 1}, msg("hello"), *WELCOME[1:]]
    journey_id = make_journey(sessions, tenant, steps)
    assert enter(sessions, journey_id, member)
    run(sessions)  # the first wait: hello due in 1 hour
    clock.advance(timedelta(days=3))  # the worker was down for three days
    run(sessions)
    e = enrolment(sessions)
    assert [(h["step"], h["outcome"], h.get("reason")) for h in e.history] == [
        ("w0", "waited", None),
        ("hello", "skipped", "missed window"),
        ("w1", "waited", None),
    ]
    assert sent(sessions) == []
    # The next wait counts from when the worker came back, not from when it was due.
    assert e.next_run_at == clock.now() + timedelta(days=2)


def test_two_workers_on_postgresql_run_each_step_once(pg_only_engine: Engine) -> None:
    clock = FrozenClock(START)
    sessions = make_session_factory(pg_only_engine, clock)
    tenant = make_tenant(sessions, "alpha")
    members = [add_member(sessions, tenant.merchant_id) for _ in range(60)]
    journey_id = make_journey(sessions, tenant, [msg("a"), msg("b")])
    for m in members:
        assert enter(sessions, journey_id, m)
    barrier = threading.Barrier(2)

    def work() -> None:
        barrier.wait()
        for _ in range(50):
            engine.run_due(sessions, limit=7)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [k for _m, k in sent(sessions)]
    assert len(keys) == len(set(keys)) == 120
    with sessions() as s:
        rows = list(s.scalars(select(JourneyEnrolment)))
    assert {r.status for r in rows} == {"completed"}
    assert all([h["step"] for h in r.history] == ["a", "b"] for r in rows)
