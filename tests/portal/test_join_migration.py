"""Migration 0019 adds the code and join tables and the consent wording, keeps existing consent
history, and goes down and up again cleanly, on both databases."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from patron.core.migrate import downgrade, upgrade
from tests.conftest import Tenant
from tests.engagement.conftest import add_member, grant


def test_down_and_up_keeps_the_consent_history(
    engine: Engine, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    member = add_member(sessions, tenant.merchant_id)
    grant(sessions, tenant.merchant_id, member, "email", "marketing")
    try:
        downgrade(engine, "0020_checkout")
        tables = set(inspect(engine).get_table_names())
        assert not {"portal_codes", "member_joins"} & tables
        columns = {c["name"] for c in inspect(engine).get_columns("consent_changes")}
        assert "wording" not in columns
    finally:
        upgrade(engine)
    assert {"portal_codes", "member_joins"} <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT topic, granted, wording, wording_version FROM consent_changes")
        ).all()
    assert [tuple(r) for r in rows] == [("marketing", True, None, None)]
