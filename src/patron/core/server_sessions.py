"""Sessions kept on the server so that they can be ended (ADR 0015): the staff's dashboard
sessions and the members' portal sessions share this one mechanism.

A signed cookie carries a random token; a row found by the token's hash says whether the session
still stands. Ending the row ends the session even in a copied cookie. Each kind of session is a
table with ``merchant_id``, an owner column (``staff_user_id``, ``member_id``), ``token_hash``,
``created_at``, ``expires_at`` and ``ended_at``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.ids import token, token_hash


def start(
    session: Session, model: type[Any], owner: str, merchant_id: int, owner_id: int, seconds: int
) -> str:
    """A new session of ``owner_id``; the raw token (for the cookie) is returned, its hash kept."""
    raw = token(24)
    now = utcnow(session)
    session.add(
        model(
            merchant_id=merchant_id,
            token_hash=token_hash(raw),
            created_at=now,
            expires_at=now + timedelta(seconds=seconds),
            **{owner: owner_id},
        )
    )
    session.flush()
    return raw


def stands(session: Session, model: type[Any], owner: str, raw: str, owner_id: int) -> bool:
    """Whether the session ``raw`` is ``owner_id``'s and neither ended nor expired (one lookup
    by the token's hash)."""
    found = session.execute(
        select(getattr(model, owner), model.expires_at, model.ended_at).where(
            model.token_hash == token_hash(raw)
        )
    ).first()
    return (
        found is not None
        and found[0] == owner_id
        and found.ended_at is None
        and found.expires_at > utcnow(session)
    )


def end(session: Session, model: type[Any], raw: str) -> None:
    """This one session ends (other devices of the same owner stay signed in)."""
    session.execute(
        update(model)
        .where(model.token_hash == token_hash(raw), model.ended_at.is_(None))
        .values(ended_at=utcnow(session))
    )


def end_all(session: Session, model: type[Any], owner: str, merchant_id: int, owner_id: int) -> int:
    """Every open session of ``owner_id`` ends; how many there were."""
    result = session.execute(
        update(model)
        .where(
            model.merchant_id == merchant_id,
            getattr(model, owner) == owner_id,
            model.ended_at.is_(None),
        )
        .values(ended_at=utcnow(session))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
