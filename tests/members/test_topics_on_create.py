"""A merchant's default consent topics are written when it is created; reading them never writes
(a write on a read raced a background analytics sync for SQLite's single writer lock)."""

from __future__ import annotations

from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.core.migrate import downgrade, upgrade
from patron.members import topics
from patron.members.models import ConsentTopic
from patron.tenancy import service as tenancy
from tests.conftest import Tenant


def _codes(sessions: sessionmaker[Session], merchant_id: int) -> list[str]:
    with sessions() as s:
        return list(
            s.scalars(
                select(ConsentTopic.code)
                .where(ConsentTopic.merchant_id == merchant_id)
                .order_by(ConsentTopic.position)
            )
        )


def test_a_new_merchant_has_the_default_topics(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        merchant = tenancy.create_merchant(s, "Tea", "tea-house", "CNY", "Asia/Shanghai")
    assert _codes(sessions, merchant.id) == [t.code for t in topics.DEFAULT_TOPICS]


def test_listing_topics_only_reads(
    engine: Engine, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    written: list[str] = []

    def spy(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not statement.lstrip().upper().startswith("SELECT"):
            written.append(statement)

    event.listen(engine, "before_cursor_execute", spy)
    try:
        with sessions() as s:
            listed = [t.code for t in topics.list_topics(s, tenant.merchant_id)]
            flags = topics.marketing_flags(s, [tenant.merchant_id])
            s.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert listed == [t.code for t in topics.DEFAULT_TOPICS]
    assert flags[(tenant.merchant_id, "marketing")] is True
    assert flags[(tenant.merchant_id, "orders")] is False
    assert [w for w in written if "consent_topics" in w] == []


def test_migration_gives_a_bare_merchant_the_defaults(
    engine: Engine, sessions: sessionmaker[Session], tenant: Tenant, other_tenant: Tenant
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM consent_topics WHERE merchant_id = :m"), {"m": tenant.merchant_id}
        )
        conn.execute(
            text(
                "UPDATE consent_topics SET labels = :l WHERE merchant_id = :m AND code = 'points'"
            ),
            {"m": other_tenant.merchant_id, "l": '{"en": "Points news"}'},
        )
    downgrade(engine, "0023_citus_keys")
    upgrade(engine, "heads")
    assert _codes(sessions, tenant.merchant_id) == [t.code for t in topics.DEFAULT_TOPICS]
    with sessions() as s:
        kept = s.scalar(
            select(ConsentTopic.labels).where(
                ConsentTopic.merchant_id == other_tenant.merchant_id, ConsentTopic.code == "points"
            )
        )
        count = s.scalar(
            select(func.count())
            .select_from(ConsentTopic)
            .where(ConsentTopic.merchant_id == other_tenant.merchant_id)
        )
    assert kept == {"en": "Points news"}
    assert count == len(topics.DEFAULT_TOPICS)
