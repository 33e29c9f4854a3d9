"""Migration 0017 seeds every existing merchant with the default topics, and keeps every code
already in use (answered by a member, named by a journey step) on the list."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from patron.core.migrate import downgrade, upgrade
from tests.conftest import Tenant
from tests.engagement.conftest import add_member


def test_upgrade_seeds_defaults_and_codes_in_use(
    engine: Engine, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    try:
        downgrade(engine, "0016_privacy")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO member_consents (merchant_id, member_id, channel, topic, granted,"
                    " source, changed_at) VALUES (:m, :member, 'email', 'vip_news', true, 'api',"
                    " CURRENT_TIMESTAMP)"
                ),
                {"m": tenant.merchant_id, "member": member},
            )
            journey = conn.execute(
                text(
                    "INSERT INTO journeys (merchant_id, name, status, version, reentry,"
                    " send_window_hours, created_at, updated_at) VALUES (:m, 'Old', 'off', 1,"
                    " 'once', 12, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"m": tenant.merchant_id},
            ).scalar_one()
            steps = [{"id": "s", "type": "send", "channel": "in_app", "content": {}}]
            conn.execute(
                text(
                    "INSERT INTO journey_versions (merchant_id, journey_id, version, trigger,"
                    " steps, created_at) VALUES (:m, :j, 1, :t, :s, CURRENT_TIMESTAMP)"
                ),
                {"m": tenant.merchant_id, "j": journey, "t": "{}", "s": json.dumps(steps)},
            )
    finally:
        upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, marketing, position FROM consent_topics WHERE merchant_id = :m"
                " ORDER BY position"
            ),
            {"m": tenant.merchant_id},
        ).all()
    codes = [r[0] for r in rows]
    assert codes[:2] == ["marketing", "promotions"] and len(codes) == 13
    assert codes[11:] == ["journeys", "vip_news"]
    assert {r[0]: bool(r[1]) for r in rows}["aftercare"] is False
    assert [r[2] for r in rows] == list(range(13))
