"""Ids named inside a request body must be the caller's: one check for every domain.

A path id is looked up with the merchant (``get_member(session, merchant_id, id)``); an id in a
body — a list of members, the stores a coupon is good in — is checked here, in one query per few
thousand ids. Another merchant's id and an id that does not exist get the same 404, so the
answer tells nothing about other merchants (ADR 0030).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import NotFound

# Ids per IN (...) query: far below SQLite's 32,766 bound parameters.
CHUNK = 5000
# How many unknown ids an error lists.
LISTED = 20


def require_owned(
    session: Session, model: Any, merchant_id: int, ids: Iterable[int], *, field: str, what: str
) -> None:
    """404 ``<what>_not_found`` unless every id names a row of ``model`` of this merchant.

    ``model`` is a mapped class with ``id`` and ``merchant_id`` columns; ``field`` is the body
    field the ids came from (it is named in the error's details).
    """
    wanted = sorted(set(ids))
    found: set[int] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found.update(
            session.scalars(
                select(model.id).where(model.merchant_id == merchant_id, model.id.in_(chunk))
            )
        )
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise NotFound(
            f"{field}: no {what.replace('_', ' ')} {', '.join(map(str, unknown[:LISTED]))}",
            code=f"{what}_not_found",
            details={"field": field, "unknown_ids": unknown[:LISTED], "unknown": len(unknown)},
        )
