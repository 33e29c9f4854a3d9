"""Computed analytics views, kept per (view, copy version), and warmed after each sync (ADR 0506).

A view is what one page asks for: the analytics page's merchant, dates, period and filters, or
the overview's sales figures. Its figures depend only on the analytics copy, so they are
computed once per version of the copy (the end of its last complete sync) and kept in memory;
the pages and the CSV downloads of the same view read the same result. After a background sync
the views asked for most recently are computed again under the new version, in the sync's
thread, so the next page view finds them ready.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from patron.analytics.facts import Filters, Period, Scope
from patron.analytics.insights import PageData, compute_page_data
from patron.analytics.spans import equal_spans
from patron.analytics.store import copy_state, read_copy
from patron.analytics.suite import comparison_frame

CACHE_SIZE = 48
# Views computed again after a sync (the most recently asked for).
WARM_VIEWS = 6


class View(Protocol):
    """A cacheable question to the copy at ``path``."""

    @property
    def path(self) -> str: ...

    def compute(self, con: Any, session: Session | None) -> Any: ...


@dataclass(frozen=True)
class PageView:
    """The analytics page (and its CSV downloads) for one merchant and filters."""

    path: str
    merchant_id: int
    start: date
    end: date
    period: Period
    stores: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()

    def compute(self, con: Any, session: Session | None) -> PageData:
        filters = Filters(stores=self.stores, channels=self.channels)
        return compute_page_data(
            con, self.merchant_id, self.start, self.end, self.period, filters, session
        )


@dataclass(frozen=True)
class SalesView:
    """The overview's sales figures: the ``days`` days up to ``today`` and the days before."""

    path: str
    merchant_id: int
    today: date
    days: int

    def compute(self, con: Any, session: Session | None) -> pd.DataFrame:
        del session
        spans = equal_spans(self.today, self.days)
        scope = Scope(self.merchant_id, spans[1].base_start, spans[0].end)
        return comparison_frame(con, scope, spans)


_cache: OrderedDict[tuple[View, datetime], Any] = OrderedDict()
_recent: OrderedDict[View, None] = OrderedDict()
_lock = threading.Lock()


def remember(view: View, version: datetime, session: Session | None) -> Any:
    """The view's figures for this version of the copy: from memory, or computed now."""
    key = (view, version)
    with _lock:
        _recent[view] = None
        _recent.move_to_end(view)
        while len(_recent) > CACHE_SIZE:
            _recent.popitem(last=False)
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with read_copy(view.path) as con:
        result = view.compute(con, session)
    _store(key, result)
    return result


def _store(key: tuple[View, datetime], result: Any) -> None:
    with _lock:
        _cache[key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def warm(engine: Engine, path: str, limit: int = WARM_VIEWS) -> int:
    """Compute the most recently asked views of ``path`` under the copy's current version
    (called after a sync); returns how many were computed."""
    version = copy_state(path).synced_at
    if version is None:
        return 0
    with _lock:
        views = [v for v in reversed(_recent) if v.path == path][:limit]
        todo = [v for v in views if (v, version) not in _cache]
    if not todo:
        return 0
    with Session(engine) as session, read_copy(path) as con:
        for view in todo:
            _store((view, version), view.compute(con, session))
    return len(todo)


def after_sync(engine: Engine, path: str) -> Callable[[], None]:
    """What a background sync runs when it is done: :func:`warm` for ``path``."""

    def run() -> None:
        warm(engine, path)

    return run


def clear() -> None:
    with _lock:
        _cache.clear()
        _recent.clear()
