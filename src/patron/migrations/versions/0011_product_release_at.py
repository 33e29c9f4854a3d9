"""products.release_at: members may buy a product before it is released (ADR 0357)

Revision ID: 0011_product_release_at
Revises: 0009_merged_into_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0011_product_release_at"
down_revision: str | Sequence[str] | None = "0009_merged_into_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(
            sa.Column("release_at", patron.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_products_release",
        "products",
        ["merchant_id", "release_at"],
        unique=False,
        sqlite_where=sa.text("release_at IS NOT NULL"),
        postgresql_where=sa.text("release_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_products_release", table_name="products")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("release_at")
