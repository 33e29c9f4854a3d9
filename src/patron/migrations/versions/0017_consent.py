"""consent_topics: one list of consent topics per merchant, seeded with the defaults

Revision ID: 0017_consent
Revises: 0016_privacy
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import patron.core.db

revision: str = "0017_consent"
down_revision: str | Sequence[str] | None = "0016_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
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
    table = op.create_table(
        "consent_topics",
        sa.Column("id", _ID, nullable=False),
        sa.Column("merchant_id", _ID, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("labels", _JSON, nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", patron.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_consent_topics_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_topics")),
        sa.UniqueConstraint(
            "merchant_id", "code", name=op.f("uq_consent_topics_merchant_id_code")
        ),
    )
    _seed(table)


def _seed(table: sa.Table) -> None:
    """The defaults for every merchant, then every other code already in use (answered by a
    member or chosen by a campaign) as a marketing topic labelled by its code, so nothing
    that exists becomes "unknown"."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    merchants = [int(r[0]) for r in bind.execute(sa.text("SELECT id FROM merchants"))]
    in_use: dict[int, set[str]] = {m: set() for m in merchants}
    for sql in (
        "SELECT DISTINCT merchant_id, topic FROM member_consents",
        "SELECT DISTINCT merchant_id, topic FROM campaigns",
    ):
        for merchant_id, code in bind.execute(sa.text(sql)):
            if code and code != "*":
                in_use.setdefault(int(merchant_id), set()).add(str(code))
    # Journeys' send steps name topics too (a step without one sent on "journeys").
    rows = bind.execute(
        sa.text(
            "SELECT j.merchant_id, v.steps FROM journey_versions v "
            "JOIN journeys j ON j.id = v.journey_id"
        )
    )
    for merchant_id, steps in rows:
        parsed = json.loads(steps) if isinstance(steps, str) else steps
        for step in parsed or []:
            if isinstance(step, dict) and step.get("type") == "send":
                in_use.setdefault(int(merchant_id), set()).add(str(step.get("topic", "journeys")))
    rows = []
    for merchant_id, used in in_use.items():
        known = {d[0] for d in _DEFAULTS}
        for position, (code, en, zh, marketing) in enumerate(_DEFAULTS):
            rows.append(_row(merchant_id, code, {"en": en, "zh_Hans": zh}, marketing, position, now))
        for position, code in enumerate(sorted(used - known), start=len(_DEFAULTS)):
            rows.append(_row(merchant_id, code[:40], {"en": code}, True, position, now))
    if rows:
        op.bulk_insert(table, rows)


def _row(
    merchant_id: int, code: str, labels: dict[str, str], marketing: bool, position: int, now: datetime
) -> dict[str, object]:
    return {
        "merchant_id": merchant_id,
        "code": code,
        "labels": labels,
        "marketing": marketing,
        "position": position,
        "created_at": now,
        "updated_at": now,
    }


def downgrade() -> None:
    op.drop_table("consent_topics")
