"""Migration 0025_checkin creates the check-in and action tables merchant-scoped, and goes down
and up again cleanly, on both databases."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect

from patron.core.migrate import alembic_config, downgrade, upgrade
from tests.conftest import Tenant
from tests.rewards.helpers import CHECK_IN, member, put

TABLES = {"member_check_ins", "member_actions"}


def test_down_and_up(engine: Engine, client: TestClient, tenant: Tenant) -> None:
    before = ScriptDirectory.from_config(alembic_config()).get_revision("0025_checkin")
    assert before is not None and isinstance(before.down_revision, str)
    try:
        downgrade(engine, before.down_revision)
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    keys = inspect(engine).get_pk_constraint("member_check_ins")["constrained_columns"]
    assert keys == (["id", "merchant_id"] if engine.dialect.name == "postgresql" else ["id"])
    put(client, tenant, "check_in", CHECK_IN)
    m = member(client, tenant)
    r = client.post(f"/api/v1/members/{m}/check-ins", headers=tenant.headers)
    assert r.status_code == 201 and r.json()["id"] == 1
