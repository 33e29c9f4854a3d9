"""payment_settings (each merchant's payment provider accounts) and payment_orders (members'
top-ups paid through a provider), created merchant-scoped (ADR 0060)

Revision ID: 0027_payments
Revises: 0026_wallet
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0027_payments"
down_revision: str | Sequence[str] | None = "0026_wallet"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, patron.core.db.UTCDateTime(timezone=True), nullable=nullable)


def _keys(table: str) -> list[sa.Column | sa.Constraint]:  # type: ignore[type-arg]
    """id and merchant_id, keyed together (the SQLite DDL hooks of patron.core.tenant_keys
    render PRIMARY KEY (id) + UNIQUE (id, merchant_id) there)."""
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


def _scoped_fk(table: str, column: str, parent: str, ondelete: str | None) -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column, "merchant_id"],
        [f"{parent}.id", f"{parent}.merchant_id"],
        name=op.f(f"fk_{table}_{column}_{parent}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "payment_settings",
        *_keys("payment_settings"),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("credentials", _JSON, nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.UniqueConstraint(
            "provider", "merchant_id", name=op.f("uq_payment_settings_provider_merchant_id")
        ),
    )
    op.create_table(
        "payment_orders",
        *_keys("payment_orders"),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quoted_bonus_minor", sa.BigInteger(), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_txn_id", sa.String(length=64), nullable=True),
        sa.Column("pay_data", _JSON, nullable=False),
        sa.Column("top_up_id", _ID, nullable=True),
        sa.Column("refund_minor", sa.BigInteger(), nullable=False),
        sa.Column("bonus_forfeited_minor", sa.BigInteger(), nullable=False),
        sa.Column("refund_txn_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        _when("created_at"),
        _when("expires_at"),
        _when("checked_at", nullable=True),
        _when("paid_at", nullable=True),
        _when("refund_requested_at", nullable=True),
        _when("refunded_at", nullable=True),
        _when("updated_at"),
        _scoped_fk("payment_orders", "member_id", "members", "CASCADE"),
        _scoped_fk("payment_orders", "top_up_id", "top_ups", None),
        sa.UniqueConstraint(
            "out_trade_no", "merchant_id", name=op.f("uq_payment_orders_out_trade_no_merchant_id")
        ),
    )
    op.create_index(
        "ix_payment_orders_member", "payment_orders", ["merchant_id", "member_id", "id"]
    )
    op.create_index("ix_payment_orders_due", "payment_orders", ["status", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_payment_orders_due", table_name="payment_orders")
    op.drop_index("ix_payment_orders_member", table_name="payment_orders")
    op.drop_table("payment_orders")
    op.drop_table("payment_settings")
