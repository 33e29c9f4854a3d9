"""portal_codes (one-time sign-in codes), member_joins (scan-to-join attribution), and the
consent wording recorded as proof on consent_changes

Revision ID: 0021_join
Revises: 0020_checkout
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0021_join"
down_revision: str | Sequence[str] | None = "0020_checkout"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, patron.core.db.UTCDateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "portal_codes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", _ID, nullable=True),
        sa.Column("join_form", _JSON, nullable=True),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        _fk("portal_codes", "merchant_id", "merchants", "CASCADE"),
        _fk("portal_codes", "member_id", "members", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_codes")),
    )
    op.create_index(
        "ix_portal_codes_address", "portal_codes", ["merchant_id", "address", "created_at"]
    )
    op.create_table(
        "member_joins",
        sa.Column("id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("store_id", _ID, nullable=True),
        sa.Column("staff_user_id", _ID, nullable=True),
        sa.Column("source", sa.String(length=40), nullable=True),
        _when("joined_at"),
        _fk("member_joins", "merchant_id", "merchants", "CASCADE"),
        _fk("member_joins", "member_id", "members", "CASCADE"),
        _fk("member_joins", "store_id", "stores", "SET NULL"),
        _fk("member_joins", "staff_user_id", "staff_users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_joins")),
        sa.UniqueConstraint(
            "merchant_id", "member_id", name=op.f("uq_member_joins_merchant_id_member_id")
        ),
    )
    op.create_index("ix_member_joins_store", "member_joins", ["merchant_id", "store_id"])
    # Plain ADD COLUMN on both databases (no batch rebuild of the table on SQLite).
    op.add_column("consent_changes", sa.Column("wording", sa.Text(), nullable=True))
    op.add_column(
        "consent_changes", sa.Column("wording_version", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    for column in ("wording_version", "wording"):  # SQLite 3.35+ drops a column in place
        op.execute(f"ALTER TABLE consent_changes DROP COLUMN {column}")
    op.drop_index("ix_member_joins_store", table_name="member_joins")
    op.drop_table("member_joins")
    op.drop_index("ix_portal_codes_address", table_name="portal_codes")
    op.drop_table("portal_codes")
