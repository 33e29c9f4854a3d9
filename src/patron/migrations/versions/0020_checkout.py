"""merchant_versions: one number per merchant that triggers change with its set-up (ADR 0900)

Revision ID: 0020_checkout
Revises: 0019_idemkeys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_checkout"
down_revision: str | Sequence[str] | None = "0019_idemkeys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# table -> the column naming the merchant
_WATCHED = {
    "merchants": "id",
    "stores": "merchant_id",
    "products": "merchant_id",
    "program_rules": "merchant_id",
    "gift_rules": "merchant_id",
}
# A gift's stock moves with every gift handed out; only crossing "enough for one more" changes
# what a quote offers. Every other change of a gift rule counts.
_GIFT_UPDATE_WHEN = (
    "OLD.stock IS NOT DISTINCT FROM NEW.stock"
    " OR OLD.updated_at IS DISTINCT FROM NEW.updated_at"
    " OR (OLD.stock IS NULL OR OLD.stock >= OLD.gift_quantity)"
    " IS DISTINCT FROM (NEW.stock IS NULL OR NEW.stock >= NEW.gift_quantity)"
)

_PG_FUNCTION = """
CREATE FUNCTION patron_merchant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        m := (to_jsonb(OLD) ->> TG_ARGV[0])::bigint;
    ELSE
        m := (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;
    END IF;
    INSERT INTO merchant_versions (merchant_id, version)
    VALUES (m, floor(random() * 9000000000000000000)::bigint)
    ON CONFLICT (merchant_id) DO UPDATE SET version = excluded.version;
    RETURN NULL;
END $$
"""


def _sqlite_triggers(table: str, column: str) -> list[str]:
    out = []
    for op_name, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        when = ""
        if table == "gift_rules" and op_name == "UPDATE":
            when = " WHEN " + _GIFT_UPDATE_WHEN.replace("IS NOT DISTINCT FROM", "IS").replace(
                "IS DISTINCT FROM", "IS NOT"
            )
        out.append(
            f"CREATE TRIGGER {table}_merchant_changed_{op_name.lower()} AFTER {op_name} ON {table}"
            f"{when} BEGIN INSERT OR REPLACE INTO merchant_versions (merchant_id, version) "
            f"VALUES ({row}.{column}, random()); END"
        )
    return out


def upgrade() -> None:
    op.create_table(
        "merchant_versions",
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_merchant_versions")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table, column in _WATCHED.items():
            if table == "gift_rules":
                op.execute(
                    f"CREATE TRIGGER {table}_merchant_changed AFTER INSERT OR DELETE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION patron_merchant_changed('{column}')"
                )
                op.execute(
                    f"CREATE TRIGGER {table}_merchant_changed_update AFTER UPDATE ON {table} "
                    f"FOR EACH ROW WHEN ({_GIFT_UPDATE_WHEN}) "
                    f"EXECUTE FUNCTION patron_merchant_changed('{column}')"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {table}_merchant_changed "
                    f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION patron_merchant_changed('{column}')"
                )
    else:
        for table, column in _WATCHED.items():
            for statement in _sqlite_triggers(table, column):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_merchant_changed ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_merchant_changed_update ON {table}")
        op.execute("DROP FUNCTION patron_merchant_changed()")
    else:
        for table in _WATCHED:
            for op_name in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_merchant_changed_{op_name}")
    op.drop_table("merchant_versions")
