"""Default consent topics for every merchant that has none

Until now a merchant's default topics were written the first time its topics were read; they
are now written when the merchant is created and reads never write. A merchant created since
0017_consent whose topics were never read gets them here.

Revision ID: 0024_topics
Revises: 0023_citus_keys
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0024_topics"
down_revision: str | Sequence[str] | None = "0023_citus_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy of patron.members.topics.DEFAULT_TOPICS as it was when this migration was written.
_DEFAULTS = (
    ("marketing", "Offers and news", "优惠与新品资讯", True),
    ("promotions", "Promotions", "促销活动", True),
    ("birthday", "Birthday gifts", "生日礼遇", True),
    ("festivals", "Festival greetings and offers", "节日问候与优惠", True),
    ("winback", "Come-back offers", "回归礼遇", True),
    ("top_up", "Stored value offers", "储值优惠", True),
    ("welcome", "Welcome messages", "新会员欢迎", False),
    ("aftercare", "After-sales care", "售后关怀", False),
    ("points", "Points reminders", "积分提醒", False),
    ("tiers", "Membership tier news", "会员等级变化", False),
    ("orders", "Orders and receipts", "订单与收据", False),
)


def upgrade() -> None:
    bind = op.get_bind()
    bare = [
        int(r[0])
        for r in bind.execute(
            sa.text(
                "SELECT m.id FROM merchants m WHERE NOT EXISTS "
                "(SELECT 1 FROM consent_topics t WHERE t.merchant_id = m.id)"
            )
        )
    ]
    if not bare:
        return
    table = sa.table(
        "consent_topics",
        sa.column("merchant_id", sa.BigInteger()),
        sa.column("code", sa.String()),
        sa.column("labels", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")),
        sa.column("marketing", sa.Boolean()),
        sa.column("position", sa.Integer()),
        sa.column("created_at", patron.core.db.UTCDateTime(timezone=True)),
        sa.column("updated_at", patron.core.db.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {
                "merchant_id": merchant_id,
                "code": code,
                "labels": {"en": en, "zh_Hans": zh},
                "marketing": marketing,
                "position": position,
                "created_at": now,
                "updated_at": now,
            }
            for merchant_id in bare
            for position, (code, en, zh, marketing) in enumerate(_DEFAULTS)
        ],
    )


def downgrade() -> None:
    """Nothing to undo: the topics are the merchant's own from now on."""
