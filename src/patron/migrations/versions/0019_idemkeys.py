"""Widen the columns that hold an Idempotency-Key to the one limit, 200 characters (ADR 0034)

Revision ID: 0019_idemkeys
Revises: 0018_security

idempotency_keys.key holds the client's key behind a domain prefix (``checkout:``), 255;
mall_orders.idempotency_key the client's key, 200; journal_entries.object_id a top-up's key, 200.
(A checkout's order id stays within 120: a long key is named by its hash.)

PostgreSQL only: widening a varchar there changes the catalogue, not the rows. SQLite does not
enforce declared lengths (the columns have TEXT affinity), so rebuilding the tables (and
``journal_entries`` is the largest) would buy nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_idemkeys"
down_revision: str | Sequence[str] | None = "0018_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, before, after)
_WIDENED = (
    ("idempotency_keys", "key", 200, 255),
    ("mall_orders", "idempotency_key", 120, 200),
    ("journal_entries", "object_id", 120, 200),
)


def _resize(to_after: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, before, after in _WIDENED:
        old, new = (before, after) if to_after else (after, before)
        op.alter_column(
            table, column, type_=sa.String(length=new), existing_type=sa.String(length=old)
        )


def upgrade() -> None:
    _resize(to_after=True)


def downgrade() -> None:
    _resize(to_after=False)
