"""Events held by ``events_batched`` are written together; a rolled-back savepoint's are not."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.core.events import OutboxEvent, emit, events_batched
from tests.conftest import Tenant


def _types(sessions: sessionmaker[Session]) -> list[str]:
    with transaction(sessions) as s:
        return list(s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id)))


def test_held_events_keep_order_and_drop_rolled_back_savepoints(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    m = tenant.merchant_id
    before = _types(sessions)
    with transaction(sessions) as s, events_batched(s):
        emit(s, m, "order.created", {"n": 1})
        with s.begin_nested():
            emit(s, m, "points.spent", {"n": 2})
            with s.begin_nested():
                emit(s, m, "points.earned", {"n": 3})
        try:
            with s.begin_nested():
                emit(s, m, "member.updated", {"n": 4})
                with s.begin_nested():
                    emit(s, m, "member.created", {"n": 5})
                raise RuntimeError("refused")
        except RuntimeError:
            pass
        emit(s, m, "order.refunded", {"n": 6})
        assert s.scalars(select(OutboxEvent.id).where(OutboxEvent.merchant_id == m)).all() == []
    assert _types(sessions)[len(before) :] == [
        "order.created",
        "points.spent",
        "points.earned",
        "order.refunded",
    ]


def test_a_failed_block_writes_none(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    before = _types(sessions)
    with pytest.raises(RuntimeError), transaction(sessions) as s, events_batched(s):
        emit(s, tenant.merchant_id, "order.created", {"n": 1})
        raise RuntimeError("refused")
    assert _types(sessions) == before
