"""outbox_events.tx_id and outbox_cursors.last_tx_id: consumers read in commit order (ADR 0009)

Revision ID: 0012_outbox_tx
Revises: 0011_product_release_at
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_outbox_tx"
down_revision: str | Sequence[str] | None = "0011_product_release_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tx_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_outbox_events_tx", ["tx_id", "id"], unique=False)
    with op.batch_alter_table("outbox_cursors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_tx_id", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
    if op.get_bind().dialect.name == "postgresql":
        # Events written before this revision sort first, in id order, as they were read.
        op.execute("UPDATE outbox_events SET tx_id = 0")


def downgrade() -> None:
    with op.batch_alter_table("outbox_cursors", schema=None) as batch_op:
        batch_op.drop_column("last_tx_id")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_tx")
        batch_op.drop_column("tx_id")
