"""Migration 0026_wallet adds the wallet, member data request and lunar birthday tables, already
merchant-scoped, and goes down and up again cleanly, on both databases."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from patron.core.migrate import alembic_config, downgrade, upgrade

# The revision before it (whatever the chain becomes when branches are merged).
BEFORE = str(
    ScriptDirectory.from_config(alembic_config()).get_revision("0026_wallet").down_revision
)

TABLES = {
    "wallet_settings",
    "wallet_passes",
    "wallet_registrations",
    "member_data_requests",
    "member_lunar_birthdays",
}


def test_down_and_up(engine: Engine) -> None:
    try:
        downgrade(engine, BEFORE)
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    keys = inspect(engine).get_foreign_keys("wallet_registrations")
    assert any(k["constrained_columns"] == ["pass_id", "merchant_id"] for k in keys)
