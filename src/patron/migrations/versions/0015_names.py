"""journal_entries.words: the member's words as a phrase code and figures, worded when read

Entries written before keep words NULL: their stored description is shown as it is (ADR 0621).

Revision ID: 0015_names
Revises: 0014_lang
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

revision: str = "0015_names"
down_revision: str | Sequence[str] | None = "0014_lang"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
                "words",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            ))


def downgrade() -> None:
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_column("words")
