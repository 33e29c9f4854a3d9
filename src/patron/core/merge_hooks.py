"""Member-merge hooks: the registry every domain with member rows adds its hook to.

Merging two members (``patron.members.merge``) moves the members domain's own rows and then
calls these hooks, in the caller's transaction, so the other domains move theirs (ledger
balances and lots, tiers, coupons, messages, portal links…). The registry lives here, below
every domain, so that a domain registers without importing the members package and members
calls the hooks without importing any domain: no import cycle (ADR 0920, after ADR 0370).

A hook module registers its hook(s) with :func:`register_merge_hook` when imported. The modules
are found under the ``patron.merge_hooks`` entry point group (pyproject.toml), so a package can
add one without touching Patron; the built-in ones are also named in :data:`BUILTIN`, so a
checkout that has not been re-installed (no entry point metadata yet) still merges everything.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points

from sqlalchemy.orm import Session

log = logging.getLogger("patron.core.merge_hooks")

# hook(session, merchant_id, keep_id, gone_id): move the domain's rows to the kept member.
MergeHook = Callable[[Session, int, int, int], None]
MERGE_HOOKS: list[MergeHook] = []
_STAGES: dict[MergeHook, int] = {}

# Stages: balances move first, then what is computed from them (tiers); hooks of stage
# STAGE_AFTER and up run once the tombstone is marked and the summaries are fresh (segments
# evaluate everything about the kept member).
STAGE_LEDGER = 10
STAGE_PROGRAMS = 20
STAGE_ROWS = 30
STAGE_AFTER = 90

GROUP = "patron.merge_hooks"
# The built-in hook modules, by name (the same as the entry points; a test keeps them equal).
BUILTIN = (
    "patron.ledger.merge",
    "patron.programs.merge",
    "patron.coupons.merge",
    "patron.engagement.merge",
    "patron.portal.merge",
    "patron.rewards.merge",
    "patron.voice.merge",
)


def register_merge_hook(hook: MergeHook, stage: int = STAGE_ROWS) -> None:
    """Run ``hook`` in every merge, after hooks of lower stages (registering twice is a no-op)."""
    if hook in _STAGES:
        return
    _STAGES[hook] = stage
    MERGE_HOOKS.append(hook)
    MERGE_HOOKS.sort(key=stage_of)


def stage_of(hook: MergeHook) -> int:
    return _STAGES.get(hook, STAGE_ROWS)


@cache
def load_merge_hooks() -> tuple[str, ...]:
    """Import every hook module once (the built-in ones, then the entry points'); their names."""
    for name in BUILTIN:
        importlib.import_module(name)  # a built-in hook that fails to import is a bug: raise
    loaded = list(BUILTIN)
    for ep in entry_points(group=GROUP):
        if ep.value in loaded:
            continue
        try:
            ep.load()
        except Exception:  # a broken third-party plugin must not stop the built-in hooks
            log.exception("merge hook plugin failed to load", extra={"entry_point": ep.name})
            continue
        loaded.append(ep.value)
    return tuple(loaded)
