"""member_activities (what raises the engagement score) and engagement_policies.care_cap_messages

Revision ID: 0014_lang
Revises: 0013_imports
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0014_lang"
down_revision: str | Sequence[str] | None = "0013_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "member_activities",
        sa.Column("id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("occurred_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expired", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_activities_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_member_activities_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_activities")),
        sa.UniqueConstraint(
            "merchant_id",
            "member_id",
            "dedupe_key",
            name=op.f("uq_member_activities_merchant_id_member_id_dedupe_key"),
        ),
    )
    with op.batch_alter_table("member_activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_member_activities_member", ["member_id", "occurred_at"], unique=False
        )
        batch_op.create_index("ix_member_activities_live", ["expired", "occurred_at"], unique=False)
    with op.batch_alter_table("engagement_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "care_cap_messages", sa.Integer(), nullable=False, server_default=sa.text("2")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("engagement_policies", schema=None) as batch_op:
        batch_op.drop_column("care_cap_messages")
    with op.batch_alter_table("member_activities", schema=None) as batch_op:
        batch_op.drop_index("ix_member_activities_live")
        batch_op.drop_index("ix_member_activities_member")
    op.drop_table("member_activities")
