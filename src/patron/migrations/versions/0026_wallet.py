"""wallet_settings, wallet_passes and wallet_registrations (Apple and Google Wallet cards);
member_data_requests (a member's own downloads and requests to close their account);
member_lunar_birthdays (a birthday celebrated in the Chinese lunar calendar)

Created merchant-scoped (ADR 0060): primary key (id, merchant_id), references within one
merchant by (x_id, merchant_id).

Revision ID: 0026_wallet
Revises: 0025_checkin
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import patron.core.db
import patron.core.tenant_keys  # noqa: F401 (the SQLite and PostgreSQL key DDL)

revision: str = "0026_wallet"
down_revision: str | Sequence[str] | None = "0025_checkin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, patron.core.db.UTCDateTime(timezone=True), nullable=nullable)


def _keys(table: str) -> list[Any]:
    return [
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f(f"fk_{table}_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", "merchant_id", name=op.f(f"pk_{table}")),
    ]


def _scoped_fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column, "merchant_id"],
        [f"{target}.id", f"{target}.merchant_id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "wallet_settings",
        *_keys("wallet_settings"),
        sa.Column("apple_pass_type_id", sa.String(length=200), nullable=True),
        sa.Column("apple_team_id", sa.String(length=20), nullable=True),
        sa.Column("google_issuer_id", sa.String(length=40), nullable=True),
        sa.Column("google_service_account", sa.String(length=254), nullable=True),
        sa.Column("credentials", _JSON, nullable=False),
        _when("updated_at"),
        sa.UniqueConstraint("merchant_id", name=op.f("uq_wallet_settings_merchant_id")),
    )
    op.create_table(
        "wallet_passes",
        *_keys("wallet_passes"),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        _when("created_at"),
        _when("changed_at"),
        _scoped_fk("wallet_passes", "member_id", "members"),
        sa.UniqueConstraint(
            "merchant_id", "member_id", name=op.f("uq_wallet_passes_merchant_id_member_id")
        ),
        sa.UniqueConstraint(
            "serial", "merchant_id", name=op.f("uq_wallet_passes_serial_merchant_id")
        ),
    )
    op.create_table(
        "wallet_registrations",
        *_keys("wallet_registrations"),
        sa.Column("pass_id", _ID, nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("push_token", sa.String(length=200), nullable=False),
        _when("created_at"),
        _when("pushed_at", nullable=True),
        _scoped_fk("wallet_registrations", "pass_id", "wallet_passes"),
        sa.UniqueConstraint(
            "pass_id",
            "device_id",
            "merchant_id",
            name=op.f("uq_wallet_registrations_pass_id_device_id_merchant_id"),
        ),
    )
    op.create_index("ix_wallet_registrations_device", "wallet_registrations", ["device_id"])
    op.create_table(
        "member_data_requests",
        *_keys("member_data_requests"),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("requested_at"),
        _when("handled_at", nullable=True),
        _scoped_fk("member_data_requests", "member_id", "members"),
    )
    op.create_index(
        "ix_member_data_requests_member",
        "member_data_requests",
        ["merchant_id", "member_id", "kind", "requested_at"],
    )
    op.create_table(
        "member_lunar_birthdays",
        *_keys("member_lunar_birthdays"),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("lunar_month", sa.Integer(), nullable=False),
        sa.Column("lunar_day", sa.Integer(), nullable=False),
        sa.Column("leap_month", sa.Boolean(), nullable=False),
        _when("updated_at"),
        _scoped_fk("member_lunar_birthdays", "member_id", "members"),
        sa.UniqueConstraint(
            "merchant_id", "member_id", name=op.f("uq_member_lunar_birthdays_merchant_id_member_id")
        ),
    )
    op.create_index(
        "ix_member_lunar_birthdays_day",
        "member_lunar_birthdays",
        ["merchant_id", "lunar_month", "lunar_day"],
    )
    op.create_index(
        "ix_member_data_requests_status", "member_data_requests", ["merchant_id", "kind", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_member_lunar_birthdays_day", table_name="member_lunar_birthdays")
    op.drop_table("member_lunar_birthdays")
    op.drop_index("ix_member_data_requests_status", table_name="member_data_requests")
    op.drop_index("ix_member_data_requests_member", table_name="member_data_requests")
    op.drop_table("member_data_requests")
    op.drop_index("ix_wallet_registrations_device", table_name="wallet_registrations")
    op.drop_table("wallet_registrations")
    op.drop_table("wallet_passes")
    op.drop_table("wallet_settings")
