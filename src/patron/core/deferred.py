"""Modules imported on first use: ``deferred_module("scipy.special")`` is a stand-in whose first
attribute access imports the module (thread-safe: the import system locks each module).

For heavy optional dependencies (pandas, SciPy, Ibis, DuckDB, pyarrow) on paths that most runs
never take: ``import patron.app`` and ``import patron.cli`` must not load them (ADR 0010, tested
by tests/test_start_up.py). Type checkers see the real module through a ``TYPE_CHECKING`` import
of the same name::

    if TYPE_CHECKING:
        from scipy import special
    else:
        special = deferred_module("scipy.special")
"""

from __future__ import annotations

import importlib
from typing import Any


class DeferredModule:
    """Stands in for the module ``name`` until an attribute is read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        # After the first call this is a dictionary look-up in sys.modules.
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"


def deferred_module(name: str) -> Any:
    """A stand-in for the module ``name``, imported when first used."""
    return DeferredModule(name)
