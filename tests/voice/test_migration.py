"""Migration 0028_voice creates the five tables and takes them away again (SQLite and
PostgreSQL); the tables' keys carry the merchant (checked by tests/test_schema_distribution)."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from patron.core.migrate import alembic_config, downgrade, upgrade

REVISION = "0028_voice"
TABLES = {"reviews", "review_photos", "service_cases", "case_events", "service_settings"}


def test_downgrade_drops_the_tables_and_upgrade_brings_them_back(engine: Engine) -> None:
    before = str(ScriptDirectory.from_config(alembic_config()).get_revision(REVISION).down_revision)
    assert set(inspect(engine).get_table_names()) >= TABLES
    try:
        downgrade(engine, before)
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
