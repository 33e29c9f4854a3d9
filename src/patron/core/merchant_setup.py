"""What every new merchant starts with: the set-up steps run when a merchant is created.

``patron.tenancy`` creates merchants but sits below the domains, so it cannot import them; the
domains that give a new merchant its starting rows (the members domain: the default consent
topics) are named here, by module and function, and called in the creating transaction. Reads
then never write: a page that lists a merchant's topics only reads them (a write on a read
raced a background analytics sync on SQLite's single writer lock).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache

from sqlalchemy.orm import Session

SetupStep = Callable[[Session, int], None]

# (module, function): each step takes (session, merchant_id) and is safe to run twice.
BUILTIN = (("patron.members.topics", "ensure_topics"),)


@cache
def setup_steps() -> tuple[SetupStep, ...]:
    return tuple(getattr(importlib.import_module(mod), fn) for mod, fn in BUILTIN)


def set_up_merchant(session: Session, merchant_id: int) -> None:
    """Write a new merchant's starting rows in the caller's transaction."""
    for step in setup_steps():
        step(session, merchant_id)
