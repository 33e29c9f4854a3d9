"""member_check_ins (the daily check-in) and member_actions (earning for named actions),
created merchant-scoped (ADR 0060, ADR 1320, ADR 1321)

Revision ID: 0025_checkin
Revises: 0024_topics
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0025_checkin"
down_revision: str | Sequence[str] | None = "0024_topics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, patron.core.db.UTCDateTime(timezone=True), nullable=nullable)


def _keys(table: str) -> list[sa.Constraint]:
    """Primary key (id, merchant_id) on PostgreSQL; SQLite keeps the rowid ``PRIMARY KEY (id)``
    and adds ``UNIQUE (id, merchant_id)`` (ADR 0060); the member and merchant keys."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    keys: list[sa.Constraint] = (
        [
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("id", "merchant_id", name=op.f(f"uq_{table}_id_merchant_id")),
        ]
        if sqlite
        else [sa.PrimaryKeyConstraint("id", "merchant_id", name=op.f(f"pk_{table}"))]
    )
    keys += [
        sa.ForeignKeyConstraint(
            ["member_id", "merchant_id"],
            ["members.id", "members.merchant_id"],
            name=op.f(f"fk_{table}_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f(f"fk_{table}_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
    ]
    return keys


def upgrade() -> None:
    op.create_table(
        "member_check_ins",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("growth", sa.Integer(), nullable=False),
        sa.Column("coupon_code_ids", _JSON, nullable=False),
        sa.Column("entry_id", _ID, nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        _when("checked_in_at"),
        sa.Column("source", sa.String(length=16), nullable=False),
        *_keys("member_check_ins"),
        sa.UniqueConstraint(
            "member_id",
            "local_day",
            "merchant_id",
            name=op.f("uq_member_check_ins_member_id_local_day_merchant_id"),
        ),
    )
    op.create_table(
        "member_actions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        _when("occurred_at"),
        _when("recorded_at"),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("growth", sa.Integer(), nullable=False),
        sa.Column("earned", sa.Boolean(), nullable=False),
        sa.Column("refusal", sa.String(length=40), nullable=True),
        sa.Column("entry_id", _ID, nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("details", _JSON, nullable=True),
        *_keys("member_actions"),
        sa.UniqueConstraint(
            "event_id", "merchant_id", name=op.f("uq_member_actions_event_id_merchant_id")
        ),
    )
    op.create_index(
        "ix_member_actions_member",
        "member_actions",
        ["merchant_id", "member_id", "action", "local_day"],
    )


def downgrade() -> None:
    op.drop_index("ix_member_actions_member", table_name="member_actions")
    op.drop_table("member_actions")
    op.drop_table("member_check_ins")
