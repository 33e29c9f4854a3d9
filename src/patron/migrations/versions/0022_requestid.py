"""outbox_events.request_id and messages.request_id: the request that caused them (ADR 0042)

Revision ID: 0022_requestid
Revises: 0021_join
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_requestid"
down_revision: str | Sequence[str] | None = "0021_join"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("outbox_events", "messages")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("request_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("request_id")
