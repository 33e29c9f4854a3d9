"""Idempotency keys: a retry returns its first result; a reused key with another body is 409.

Usage (any domain, e.g. a checkout commit)::

    with idempotent(session, merchant_id, key, body) as slot:
        if slot.replay is not None:
            return slot.replay
        result = do_the_work()
        slot.save({"order_id": ...})

The key row is inserted first (``ON CONFLICT DO NOTHING``), inside a savepoint, so concurrent
duplicates meet at the unique index: on PostgreSQL the second insert waits for the first
transaction, then inserts nothing and reads the stored result. The savepoint also wraps the work,
so an error inside the block leaves the caller's session exactly as it was (a refused spend
changes nothing, even if the caller carries on). Inside ``all_or_nothing`` (a checkout commit)
there is no savepoint: an error rolls back the whole transaction instead (ADR 0900).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import UTCDateTime, savepoint
from patron.core.errors import Conflict, InvalidInput
from patron.core.ids import fingerprint
from patron.ledger.journal import PostedEntry, load_posted
from patron.ledger.models import KEYS, STORED_KEY_LENGTH, IdempotencyKey

# A stored key is the client's (at most IDEMPOTENCY_KEY_MAX_LENGTH, core.http) behind a short
# domain prefix such as ``checkout:``; the column holds both (ADR 0034).
MAX_KEY_LENGTH = STORED_KEY_LENGTH
_INSERT_KEY = text(
    "INSERT INTO idempotency_keys (merchant_id, key, fingerprint, created_at) "
    "VALUES (:merchant_id, :key, :fingerprint, :created_at) "
    "ON CONFLICT (merchant_id, key) DO NOTHING RETURNING id"
).bindparams(bindparam("created_at", type_=UTCDateTime()))


@dataclass
class IdempotencySlot:
    """``replay`` is the stored first result (return it); otherwise do the work and ``save``."""

    replay: dict[str, Any] | None = None
    result: dict[str, Any] | None = None

    def save(self, result: dict[str, Any]) -> None:
        self.result = result


def _stored(session: Session, merchant_id: int, key: str, body_fingerprint: str) -> dict[str, Any]:
    row = session.execute(
        select(IdempotencyKey.fingerprint, IdempotencyKey.result).where(
            IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key
        )
    ).one()
    if row.fingerprint != body_fingerprint:
        raise Conflict(
            "this idempotency key was already used with a different request",
            code="idempotency_key_reused",
        )
    if row.result is None:  # only if a caller forgot to save(); never for ledger operations
        raise Conflict("the first request with this key is unfinished", code="idempotency_key_busy")
    result: dict[str, Any] = row.result
    return result


def stored_result(session: Session, merchant_id: int, key: str) -> dict[str, Any] | None:
    """The result first saved under ``key`` for this merchant (None: no such key, or unfinished),
    e.g. to show a till's receipt again after the sale."""
    result: dict[str, Any] | None = session.scalar(
        select(IdempotencyKey.result).where(
            IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key
        )
    )
    return result


@contextmanager
def idempotent(
    session: Session, merchant_id: int, key: str | None, body: Any
) -> Iterator[IdempotencySlot]:
    """Run the block once per (merchant, key); see the module docstring. ``key=None`` runs it."""
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH):
        raise InvalidInput(
            f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters",
            code="invalid_idempotency_key",
        )
    body_fingerprint = fingerprint(body)
    slot = IdempotencySlot()
    with savepoint(session):
        key_id: int | None = None
        if key is not None:
            # One round trip: a key already there (or being written by a concurrent request,
            # which PostgreSQL waits for) inserts nothing, and the first result is read instead.
            key_id = session.execute(
                _INSERT_KEY,
                {
                    "merchant_id": merchant_id,
                    "key": key,
                    "fingerprint": body_fingerprint,
                    "created_at": utcnow(session),
                },
            ).scalar_one_or_none()
            if key_id is None:
                slot.replay = _stored(session, merchant_id, key, body_fingerprint)
        yield slot
        if key_id is not None:
            if slot.result is None:
                raise RuntimeError("an idempotent block must save() its result")
            session.execute(update(KEYS).where(KEYS.c.id == key_id).values(result=slot.result))


def once(
    session: Session,
    merchant_id: int,
    key: str | None,
    body: Any,
    work: Callable[[], PostedEntry],
) -> PostedEntry:
    """Post an entry at most once per key; a replay returns the entry first posted."""
    with idempotent(session, merchant_id, key, body) as slot:
        if slot.replay is not None:
            return load_posted(session, merchant_id, int(slot.replay["entry_id"]))
        posted = work()
        slot.save({"entry_id": posted.id})
        return posted
