"""The worker task and `patron expire`: release, expire, announce expiring points (both DBs)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from patron.cli import app as cli_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings, get_settings
from patron.core.db import transaction
from patron.core.events import OutboxEvent
from patron.ledger import service as ledger
from patron.ledger.queries import member_balances
from patron.ledger.tasks import ScheduleRun, expire_until_idle, points_schedule
from patron.ledger.verify import verify
from patron.worker import TASKS
from tests.conftest import Tenant
from tests.ledger.helpers import balance, info, make_members, points

DAY = timedelta(days=1)


def events(session: Session, type_: str) -> list[dict[str, object]]:
    return [
        e.payload
        for e in session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == type_).order_by(OutboxEvent.id)
        )
    ]


def test_worker_releases_announces_and_expires(
    sessions: sessionmaker[Session], settings: Settings, tenant: Tenant, clock: FrozenClock
) -> None:
    assert ("ledger.points_schedule", points_schedule) in TASKS
    [m] = make_members(sessions, tenant.merchant_id, 1)
    t0 = clock.now()
    with transaction(sessions) as s:
        ledger.earn_points(
            s,
            tenant.merchant_id,
            m,
            60,
            info(),
            available_at=t0 + 3 * DAY,
            expires_at=t0 + 20 * DAY,
        )
        ledger.earn_points(s, tenant.merchant_id, m, 15, info(), expires_at=t0 + 5 * DAY)
    assert points_schedule(sessions, settings) == 1  # the 15 expire within 7 days: announced once
    assert points_schedule(sessions, settings) == 0
    with transaction(sessions) as s:
        [soon] = events(s, "points.expiring_soon")
        assert (soon["member_id"], soon["points"]) == (m, 15)
    clock.advance(3 * DAY)
    assert points_schedule(sessions, settings) == 1  # the 60 become spendable
    with transaction(sessions) as s:
        b = member_balances(s, tenant.merchant_id, m)
        assert (b.points_spendable, b.points_pending) == (75, 0)
    clock.advance(3 * DAY)
    assert points_schedule(sessions, settings) == 1  # the 15 expire
    clock.advance(8 * DAY)
    assert points_schedule(sessions, settings) == 1  # the 60 are announced
    with transaction(sessions) as s:
        assert points(s, m) == 60
        assert balance(s, None, "points_expired") == 15
        assert [e["points"] for e in events(s, "points.expired")] == [15]
        assert [e["points"] for e in events(s, "points.expiring_soon")] == [15, 60]
        assert verify(s) == []


def test_expire_until_idle_runs_batches_until_nothing_is_due(
    sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant, clock: FrozenClock
) -> None:
    """Five due lots in batches of two: three batches do the work, a fourth finds nothing; the
    other merchant's due lot is left alone when one merchant is named."""
    mid = tenant.merchant_id
    [m] = make_members(sessions, mid, 1)
    [o] = make_members(sessions, other_tenant.merchant_id, 1)
    t0 = clock.now()
    with transaction(sessions) as s:
        for n in range(1, 6):
            ledger.earn_points(s, mid, m, 10 * n, info(), expires_at=t0 + n * DAY)
        ledger.earn_points(s, mid, m, 7, info(), available_at=t0 + DAY)
        ledger.earn_points(s, other_tenant.merchant_id, o, 9, info(), expires_at=t0 + DAY)
    clock.advance(6 * DAY)
    assert expire_until_idle(sessions, mid, days=0, batch=2) == ScheduleRun(1, 5, 0)
    assert expire_until_idle(sessions, mid, days=0, batch=2) == ScheduleRun(0, 0, 0)
    with transaction(sessions) as s:
        assert (points(s, m), points(s, o)) == (7, 9)
        assert balance(s, None, "points_expired") == 150
        assert verify(s) == []


def test_patron_expire_command(
    engine: Engine,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [m] = make_members(sessions, tenant.merchant_id, 1)
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, m, 40, info(), expires_at=clock.now() + DAY)
    monkeypatch.setenv("PATRON_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        # the command runs on the system clock, long after the frozen test clock's day
        result = CliRunner().invoke(cli_app, ["expire", "--merchant", "alpha"])
        assert result.exit_code == 0, result.output
        assert "expired: 1 lots" in result.output
        unknown = CliRunner().invoke(cli_app, ["expire", "--merchant", "nope"])
        assert unknown.exit_code == 1
    finally:
        get_settings.cache_clear()
    with transaction(sessions) as s:
        assert points(s, m) == 0
        assert verify(s) == []
