"""members.merged_into_id index (growth of merged records, ADR 0371)

Revision ID: 0009_merged_into_index
Revises: 0008_journeys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_merged_into_index"
down_revision: str | Sequence[str] | None = "0010_predictions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_members_merged_into",
        "members",
        ["merged_into_id"],
        unique=False,
        sqlite_where=sa.text("merged_into_id IS NOT NULL"),
        postgresql_where=sa.text("merged_into_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_members_merged_into", table_name="members")
