"""Writing the demo: the merchant, its stores, catalogue and logins, then the history in batches.

Members and orders go through the import's :class:`~patron.imports.bulk.BulkWriter` (one
definition of how rows become members, identities, orders and refunds). What imports do not
carry — preferences, home store, consent source and time, the conversation log — is written here
with Core ``executemany``, a few statements per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.demo import catalogue as cat
from patron.demo.generate import (
    NAMESPACE,
    DemoConfig,
    DemoEvent,
    MemberJoined,
    OrderPlaced,
    events,
    is_join_or_order,
)
from patron.imports.bulk import BulkWriter
from patron.imports.rows import ImportResult
from patron.members.models import (
    ConsentChange,
    IdentityKind,
    Member,
    MemberConsent,
    MemberIdentity,
    MemberNote,
)
from patron.orders.models import Product
from patron.tenancy import service as tenancy
from patron.tenancy.models import Merchant

BATCH = 5_000  # events per transaction


@dataclass(frozen=True)
class DemoLogin:
    merchant_id: int
    slug: str
    email: str
    password: str
    api_key: str | None  # only when just created: keys are shown once


def owner_email(slug: str) -> str:
    return cat.OWNER_EMAIL if slug == cat.MERCHANT_SLUG else f"owner@{slug}.patron"


def find_demo(session: Session, slug: str) -> Merchant | None:
    return session.scalar(select(Merchant).where(Merchant.slug == slug))


def create_demo_merchant(session: Session, slug: str, since: datetime, now: datetime) -> DemoLogin:
    """The merchant, its stores and catalogue (with products released after ``now``), an
    owner login and a manager API key."""
    merchant = tenancy.create_merchant(
        session, cat.MERCHANT_NAME, slug, cat.CURRENCY, cat.TIMEZONE, cat.LOCALE
    )
    for store in cat.STORES:
        tenancy.create_store(
            session, merchant.id, store.code, store.name, store.channel, store.city
        )
    session.execute(
        insert(Product),
        [
            {
                "merchant_id": merchant.id,
                "sku": p.sku,
                "name": p.name,
                "category": cat.CATEGORY_NAMES[p.category],
                "price_minor": p.price_minor,
                "tags": list(p.tags),
                "active": True,
                "created_at": since,
                "updated_at": since,
            }
            for p in cat.CATALOGUE
        ],
    )
    session.execute(
        insert(Product),
        [
            {
                "merchant_id": merchant.id,
                "sku": p.sku,
                "name": p.name,
                "category": cat.CATEGORY_NAMES[p.category],
                "price_minor": p.price_minor,
                "tags": list(p.tags),
                "active": True,
                "release_at": now + timedelta(days=p.days_ahead),
                "created_at": since,
                "updated_at": since,
            }
            for p in cat.UPCOMING
        ],
    )
    email = owner_email(slug)
    tenancy.create_staff_user(
        session, merchant.id, email, cat.OWNER_NAME, "owner", cat.OWNER_PASSWORD
    )
    _key, raw = tenancy.create_api_key(session, merchant.id, "demo manager", "manager")
    return DemoLogin(merchant.id, slug, email, cat.OWNER_PASSWORD, raw)


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _member_ids(session: Session, merchant_id: int, external_ids: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(MemberIdentity.value, MemberIdentity.member_id).where(
            MemberIdentity.merchant_id == merchant_id,
            MemberIdentity.kind == IdentityKind.EXTERNAL.value,
            MemberIdentity.namespace == NAMESPACE,
            MemberIdentity.value.in_(external_ids),
        )
    )
    return {str(value): int(member_id) for value, member_id in rows}


def write_member_extras(session: Session, merchant_id: int, joined: list[MemberJoined]) -> None:
    """Preferences, consent provenance and notes of members just written."""
    if not joined:
        return
    ids = _member_ids(session, merchant_id, [j.member.external_id or "" for j in joined])
    conn = session.connection()
    members = _table(Member)
    conn.execute(
        update(members)
        .where(members.c.id == bindparam("b_id"))
        .values(preferences=bindparam("b_prefs", type_=members.c.preferences.type)),
        [{"b_id": ids[j.member.external_id or ""], "b_prefs": j.preferences} for j in joined],
    )
    consent_rows = [
        {
            "b_id": ids[j.member.external_id or ""],
            "b_ch": ch,
            "b_src": j.consent_source,
            "b_at": j.at,
        }
        for j in joined
        for ch in j.member.consents
    ]
    for model in (MemberConsent, ConsentChange):
        table = _table(model)
        if consent_rows:
            conn.execute(
                update(table)
                # merchant_id first: the unique index (merchant, member, channel, topic) applies.
                .where(
                    table.c.merchant_id == merchant_id,
                    table.c.member_id == bindparam("b_id"),
                    table.c.channel == bindparam("b_ch"),
                )
                .values(
                    source=bindparam("b_src"),
                    changed_at=bindparam("b_at", type_=table.c.changed_at.type),
                ),
                consent_rows,
            )
    notes = [
        {
            "merchant_id": merchant_id,
            "member_id": ids[j.member.external_id or ""],
            "noted_at": n.noted_at,
            "author": n.author,
            "channel": n.channel,
            "body": n.body,
        }
        for j in joined
        for n in j.notes
    ]
    if notes:
        conn.execute(insert(_table(MemberNote)), notes)


def write_history(
    factory: sessionmaker[Session],
    merchant_id: int,
    cfg: DemoConfig,
    progress: Callable[[int], None] | None = None,
) -> tuple[ImportResult, ImportResult]:
    """Stream the generated history into the database, one transaction per batch of events."""
    member_result, order_result = ImportResult("members"), ImportResult("orders")
    stream: Iterable[DemoEvent] = events(cfg)
    batch: list[DemoEvent] = []

    def flush() -> None:
        with factory.begin() as session:
            writer = BulkWriter(session, merchant_id, NAMESPACE)
            joined = [e for e in batch if isinstance(e, MemberJoined)]
            writer.write_members([j.member for j in joined], member_result)
            write_member_extras(session, merchant_id, joined)
            orders = [e.order for e in batch if isinstance(e, OrderPlaced)]
            writer.write_orders(orders, order_result)
        if progress:
            progress(sum(map(is_join_or_order, batch)))
        batch.clear()

    for event in stream:
        batch.append(event)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return member_result, order_result


def now_of(factory: sessionmaker[Session]) -> datetime:
    with factory() as session:
        return utcnow(session)
