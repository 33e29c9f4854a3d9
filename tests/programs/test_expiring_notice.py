"""`expiring_notice_days` (points setting) sets each merchant's lead time for the ledger's
`points.expiring_soon` task; merchants without a points setting keep the default 7 days."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.events import OutboxEvent
from patron.ledger import service as ledger
from patron.worker import drain
from tests.conftest import Tenant
from tests.ledger.helpers import info, make_members
from tests.programs.helpers import POINTS, set_rules

DAY = timedelta(days=1)


def announced(sessions: sessionmaker[Session]) -> list[tuple[int, int]]:
    with transaction(sessions) as s:
        rows = s.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.type == "points.expiring_soon")
            .order_by(OutboxEvent.id)
        )
        return [(int(e.payload["member_id"]), int(e.payload["points"])) for e in rows]


def test_each_merchant_hears_at_its_own_lead_time(
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant: Tenant,
    other_tenant: Tenant,
    clock: FrozenClock,
) -> None:
    set_rules(sessions, tenant.merchant_id, points={**POINTS, "expiring_notice_days": 30})
    [a] = make_members(sessions, tenant.merchant_id, 1)
    [b] = make_members(sessions, other_tenant.merchant_id, 1)
    t0 = clock.now()
    with transaction(sessions) as s:
        ledger.earn_points(s, tenant.merchant_id, a, 40, info(), expires_at=t0 + 20 * DAY)
        ledger.earn_points(s, tenant.merchant_id, a, 9, info(), expires_at=t0 + 31 * DAY)
        ledger.earn_points(s, other_tenant.merchant_id, b, 50, info(), expires_at=t0 + 20 * DAY)
        ledger.earn_points(s, other_tenant.merchant_id, b, 6, info(), expires_at=t0 + 6 * DAY)
    drain(sessions, settings)
    # A (30 days): the 40 expiring in 20 days, not the 9 in 31; B (default 7): only the 6.
    assert sorted(announced(sessions)) == sorted([(a, 40), (b, 6)])
    clock.advance(2 * DAY)
    drain(sessions, settings)
    assert sorted(announced(sessions)) == sorted([(a, 40), (b, 6), (a, 9)])
