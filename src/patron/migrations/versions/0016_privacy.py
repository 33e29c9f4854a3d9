"""members.erased_at and member_erasures (a member's personal data erased on request)

Revision ID: 0016_privacy
Revises: 0015_names
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0016_privacy"
down_revision: str | Sequence[str] | None = "0015_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JsonDoc = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


# An erasure anonymises the words of the member's journal entries (description, note): on
# PostgreSQL an entry may change those two columns and nothing else (ADR 0050); postings stay
# fully immutable.
PG_WORDS_ONLY = [
    "DROP TRIGGER IF EXISTS journal_entries_immutable ON journal_entries",
    """
    CREATE FUNCTION journal_entry_words_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (to_jsonb(NEW) - 'description' - 'note')
           IS DISTINCT FROM (to_jsonb(OLD) - 'description' - 'note') THEN
            RAISE EXCEPTION '% rows are immutable: post a reversing or correcting entry',
                TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER journal_entries_immutable BEFORE UPDATE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_entry_words_only()
    """,
]
PG_WORDS_ONLY_DOWN = [
    "DROP TRIGGER IF EXISTS journal_entries_immutable ON journal_entries",
    "DROP FUNCTION IF EXISTS journal_entry_words_only()",
    """
    CREATE TRIGGER journal_entries_immutable BEFORE UPDATE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable()
    """,
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_WORDS_ONLY:
            op.execute(statement)
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", patron.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "member_erasures",
        sa.Column("id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("erased_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("counts", JsonDoc, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_erasures_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_member_erasures_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_erasures")),
        sa.UniqueConstraint(
            "merchant_id", "member_id", name=op.f("uq_member_erasures_merchant_id_member_id")
        ),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_WORDS_ONLY_DOWN:
            op.execute(statement)
    op.drop_table("member_erasures")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
