"""staff_sessions, portal_sessions (revocable sign-ins), login_throttles, staff_password_resets

Revision ID: 0018_security
Revises: 0017_consent
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0018_security"
down_revision: str | Sequence[str] | None = "0017_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, patron.core.db.UTCDateTime(timezone=True), nullable=nullable)


def _session_table(table: str, owner: str, owner_table: str) -> None:
    op.create_table(
        table,
        sa.Column("id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column(owner, _ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        _when("ended_at" if table.endswith("sessions") else "used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f(f"fk_{table}_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            [owner],
            [f"{owner_table}.id"],
            name=op.f(f"fk_{table}_{owner}_{owner_table}"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{table}_token_hash")),
    )


def upgrade() -> None:
    _session_table("staff_sessions", "staff_user_id", "staff_users")
    op.create_index("ix_staff_sessions_user", "staff_sessions", ["merchant_id", "staff_user_id"])
    _session_table("portal_sessions", "member_id", "members")
    op.create_index("ix_portal_sessions_member", "portal_sessions", ["merchant_id", "member_id"])
    _session_table("staff_password_resets", "staff_user_id", "staff_users")
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        _when("locked_until", nullable=True),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
    op.drop_table("staff_password_resets")
    op.drop_index("ix_portal_sessions_member", table_name="portal_sessions")
    op.drop_table("portal_sessions")
    op.drop_index("ix_staff_sessions_user", table_name="staff_sessions")
    op.drop_table("staff_sessions")
