"""What a merchant set up (rules, catalogue, stores, gift rules), kept in the process between
transactions and checked against one number per merchant (ADR 0900).

``merchant_versions.version`` changes whenever a row of a watched table changes: database
triggers (migration 0019) write a fresh random number on every insert, update or delete of
``merchants``, ``stores``, ``products``, ``program_rules`` and ``gift_rules`` (a gift's stock
only when it crosses "enough for one more gift"). Triggers, not ORM hooks, so that bulk imports
and raw SQL change it too. A random number rather than ``version + 1``: a transaction that bumps
the version, fills the cache and then rolls back must not leave a cache entry that a later,
different change would make look current again.

A reader reads the version once per transaction (:func:`merchant_version`, usually folded into a
statement it sends anyway) and asks :data:`MERCHANT_CACHE` for a part of the merchant's set-up at
that version: a part loaded at another version is loaded again. Cached values are plain frozen
data, never ORM objects (they outlive the session that read them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import BigInteger, event, text
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from patron.core.db import Base, BigId

T = TypeVar("T")

WATCHED_TABLES = ("merchants", "stores", "products", "program_rules", "gift_rules")


class MerchantVersion(Base):
    """One number per merchant that changes with every change to its set-up (see above).
    No foreign key: a merchant's deletion cascades to watched rows whose triggers write here."""

    __tablename__ = "merchant_versions"

    merchant_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


# A merchant with no row yet (none of its set-up changed since migration 0019) is version 0.
VERSION_OF = text(
    "SELECT coalesce((SELECT version FROM merchant_versions WHERE merchant_id = :m), 0)"
)
_SEEN = "patron.merchant_version"


def merchant_version(session: Session, merchant_id: int) -> int:
    """The merchant's set-up version as this transaction sees it: read once, until the session
    writes anything (a write may have changed the set-up) or the transaction ends."""
    seen: dict[int, int] = session.info.get(_SEEN, {})
    if merchant_id in seen:
        return seen[merchant_id]
    version = int(session.scalar(VERSION_OF, {"m": merchant_id}) or 0)
    saw_version(session, merchant_id, version)
    return version


def saw_version(session: Session, merchant_id: int, version: int) -> None:
    """Record the version read by a statement that fetched it along with other things."""
    session.info.setdefault(_SEEN, {})[merchant_id] = version


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_SEEN, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_write(state: ORMExecuteState) -> None:
    # Conservative: any statement that is not a plain SELECT may have changed the set-up.
    if not state.is_select and state.statement is not VERSION_OF and _SEEN in state.session.info:
        _forget(state.session)


for _name in ("after_flush", "after_commit", "after_rollback", "after_soft_rollback"):
    event.listen(Session, _name, _forget)


class MerchantCache:
    """Parts of each merchant's set-up at one version. Thread-safe; bounded (the least recently
    filled merchants leave first)."""

    def __init__(self, max_merchants: int = 2000) -> None:
        self._entries: dict[int, tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._max = max_merchants

    def _parts(self, merchant_id: int, version: int) -> dict[str, Any]:
        with self._lock:
            entry = self._entries.get(merchant_id)
            if entry is None or entry[0] != version:
                if entry is None and len(self._entries) >= self._max:
                    self._entries.pop(next(iter(self._entries)))
                entry = (version, {})
                self._entries[merchant_id] = entry
            return entry[1]

    def part(self, merchant_id: int, version: int, name: str, load: Callable[[], T]) -> T:
        """The part ``name`` at ``version``, loaded with ``load()`` when not held."""
        parts = self._parts(merchant_id, version)
        if name not in parts:
            parts[name] = load()
        return parts[name]  # type: ignore[no-any-return]

    def keyed(
        self,
        merchant_id: int,
        version: int,
        name: str,
        keys: Iterable[str],
        load: Callable[[set[str]], dict[str, T]],
    ) -> dict[str, T | None]:
        """Items of the keyed part ``name`` (a catalogue by sku…): the missing keys loaded with
        one ``load(missing)``; keys that exist nowhere are remembered as None."""
        held: dict[str, T | None] = self.part(merchant_id, version, name, dict)
        wanted = set(keys)
        missing = wanted - held.keys()
        if missing:
            found = load(missing)
            for key in missing:
                held[key] = found.get(key)
        return {key: held[key] for key in wanted}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


MERCHANT_CACHE = MerchantCache()
