"""reviews, review_photos, service_cases, case_events, service_settings: the member's voice
(ADR 1500–1502), created merchant-scoped (ADR 0060)

Revision ID: 0028_voice
Revises: 0027_payments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0028_voice"
down_revision: str | Sequence[str] | None = "0027_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, patron.core.db.UTCDateTime(timezone=True), nullable=nullable)


def _scoped(table: str) -> list[sa.schema.SchemaItem]:
    """id and merchant_id, keyed together; the merchant's row referred to."""
    return [
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=f"fk_{table}_merchant_id_merchants",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", "merchant_id", name=f"pk_{table}"),
    ]


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column, "merchant_id"],
        [f"{target}.id", f"{target}.merchant_id"],
        name=f"fk_{table}_{column}_{target}",
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "reviews",
        *_scoped("reviews"),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("order_line_id", _ID, nullable=False),
        sa.Column("sku", sa.String(80), nullable=True),
        sa.Column("product_name", sa.String(300), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _when("created_at"),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_by", sa.String(80), nullable=True),
        _when("replied_at", nullable=True),
        _when("hidden_at", nullable=True),
        sa.Column("hidden_by", sa.String(80), nullable=True),
        sa.Column("hidden_reason", sa.String(500), nullable=True),
        _fk("reviews", "member_id", "members", "CASCADE"),
        _fk("reviews", "order_id", "orders", "CASCADE"),
        _fk("reviews", "order_line_id", "order_lines", "CASCADE"),
        sa.UniqueConstraint(
            "order_line_id", "merchant_id", name="uq_reviews_order_line_id_merchant_id"
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_reviews_rating_range"),
    )
    op.create_index("ix_reviews_member", "reviews", ["merchant_id", "member_id"])
    op.create_index("ix_reviews_sku", "reviews", ["merchant_id", "sku"])
    op.create_table(
        "review_photos",
        *_scoped("review_photos"),
        sa.Column("review_id", _ID, nullable=False),
        sa.Column("storage_key", sa.String(120), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        _when("created_at"),
        _fk("review_photos", "review_id", "reviews", "CASCADE"),
        sa.UniqueConstraint(
            "storage_key", "merchant_id", name="uq_review_photos_storage_key_merchant_id"
        ),
    )
    op.create_index("ix_review_photos_review", "review_photos", ["merchant_id", "review_id"])
    op.create_table(
        "service_cases",
        *_scoped("service_cases"),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("line_ids", _JSON, nullable=False),
        sa.Column("review_id", _ID, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("assignee_id", _ID, nullable=True),
        sa.Column("opened_by", sa.String(80), nullable=False),
        _when("opened_at"),
        _when("first_response_at", nullable=True),
        _when("resolved_at", nullable=True),
        _when("closed_at", nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        _when("satisfaction_at", nullable=True),
        _fk("service_cases", "member_id", "members", "CASCADE"),
        _fk("service_cases", "order_id", "orders", "SET NULL"),
        _fk("service_cases", "review_id", "reviews", "SET NULL"),
        _fk("service_cases", "assignee_id", "staff_users", "SET NULL"),
        sa.CheckConstraint(
            "satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5",
            name="ck_service_cases_satisfaction_range",
        ),
    )
    op.create_index(
        "ix_service_cases_status", "service_cases", ["merchant_id", "status", "opened_at"]
    )
    op.create_index("ix_service_cases_member", "service_cases", ["merchant_id", "member_id"])
    op.create_table(
        "case_events",
        *_scoped("case_events"),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=True),
        _when("created_at"),
        _fk("case_events", "case_id", "service_cases", "CASCADE"),
        sa.UniqueConstraint(
            "dedupe_key", "merchant_id", name="uq_case_events_dedupe_key_merchant_id"
        ),
    )
    op.create_index("ix_case_events_case", "case_events", ["merchant_id", "case_id", "id"])
    op.create_table(
        "service_settings",
        *_scoped("service_settings"),
        sa.Column("settings", _JSON, nullable=False),
        _when("updated_at"),
        sa.UniqueConstraint("merchant_id", name="uq_service_settings_merchant_id"),
    )


def downgrade() -> None:
    for table in ("service_settings", "case_events", "service_cases", "review_photos", "reviews"):
        op.drop_table(table)
