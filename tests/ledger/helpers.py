"""Shared set-up for ledger tests: members, an entry's words, balances read back."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.ledger.models import Asset, LedgerAccount
from patron.ledger.service import EntryInfo
from patron.members.models import Member


def make_members(sessions: sessionmaker[Session], merchant_id: int, n: int) -> list[int]:
    with transaction(sessions) as s:
        now = utcnow(s)
        members = [
            Member(merchant_id=merchant_id, first_name=f"M{i}", created_at=now, updated_at=now)
            for i in range(n)
        ]
        s.add_all(members)
        s.flush()
        return [m.id for m in members]


def info(reason: str = "purchase", description: str = "Points for order 1") -> EntryInfo:
    return EntryInfo(reason_code=reason, description=description, actor="apikey:1")


def balance(session: Session, member_id: int | None, code: str) -> int:
    """Cached balance of an account (0 if it was never opened)."""
    query = select(LedgerAccount.balance).where(LedgerAccount.code == code)
    if member_id is None:
        query = query.where(LedgerAccount.member_id.is_(None))
    else:
        query = query.where(LedgerAccount.member_id == member_id)
    return session.scalar(query) or 0


def points(session: Session, member_id: int) -> int:
    return balance(session, member_id, Asset.POINTS.value)
