"""Running predictions: for one merchant (``patron analytics predict``) or daily for every
merchant (worker task ``analytics.predict``).

The daily task keeps its run log in the analytics file (``_prediction_runs``: one row per
merchant with the local date of its last run and the outcome), so a merchant whose data cannot
be fitted (no repeat buyers yet) is tried once a day, not on every worker tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.analytics.copy_lock import CopyBusy, copy_connection, hold_copy
from patron.analytics.engines import connect_duckdb
from patron.analytics.predict import PredictConfig, score_members, store_predictions
from patron.analytics.store import sync_now
from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.errors import BusinessRuleViolation, NotFound, PatronError
from patron.tenancy.models import Merchant

log = logging.getLogger("patron.analytics.predict")
RUNS_TABLE = "_prediction_runs"
# Local hour from which a merchant's daily run is due (after the night's orders are in).
DAILY_HOUR = 3
PREDICT_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class PredictOutcome:
    merchant_id: int
    members: int
    fitted_at: datetime


def predict_merchant(
    sessions: sessionmaker[Session],
    path: str,
    merchant_id: int,
    config: PredictConfig = PredictConfig(),
    *,
    synced: bool = False,
    as_of: date | None = None,
) -> PredictOutcome:
    """Sync the analytics copy at ``path`` (unless ``synced``), fit, score, upsert.

    ``as_of``: the last day of history the models learn from and score at (the merchant's
    local date; default today). A day after today is refused."""
    if not synced:
        sync_copy(sessions, path)
    with transaction(sessions) as s:
        now = utcnow(s)
        zone = s.scalar(select(Merchant.timezone).where(Merchant.id == merchant_id))
    if zone is None:
        raise NotFound(f"no merchant {merchant_id}", code="merchant_not_found")
    today = now.astimezone(ZoneInfo(zone)).date()
    if as_of is not None:
        if as_of > today:
            raise BusinessRuleViolation(
                f"--as-of {as_of} is after today ({today})", code="as_of_in_future"
            )
        today = as_of
    # Not read-only: the pages may hold the file open in this process (one configuration).
    with hold_copy(path):
        con = connect_duckdb(path)
        try:
            scored = score_members(con, merchant_id, today, config)
        finally:
            con.disconnect()
    with transaction(sessions) as s:
        n = store_predictions(s, merchant_id, scored, config, now)
    return PredictOutcome(merchant_id, n, now)


def sync_copy(sessions: sessionmaker[Session], path: str) -> None:
    """Bring the copy up to date (one sync at a time in this process, as the pages' are)."""
    sync_now(sessions.kw["bind"], path)


def due_merchants(sessions: sessionmaker[Session], path: str) -> list[tuple[int, date]]:
    """Merchants past ``DAILY_HOUR`` local time whose last run was before their local today."""
    with transaction(sessions) as s:
        now = utcnow(s)
        merchants = s.execute(select(Merchant.id, Merchant.timezone)).all()
    last = _last_runs(path)
    due = []
    for mid, zone in merchants:
        local = now.astimezone(ZoneInfo(zone))
        if local.hour >= DAILY_HOUR and last.get(int(mid), date.min) < local.date():
            due.append((int(mid), local.date()))
    return due


def _last_runs(path: str) -> dict[int, date]:
    if not Path(path).exists():
        return {}
    with copy_connection(path) as duck:
        _runs_table(duck)
        rows = duck.execute(f"SELECT merchant_id, local_date FROM {RUNS_TABLE}").fetchall()
    return {int(m): d for m, d in rows}


def _runs_table(duck: duckdb.DuckDBPyConnection) -> None:
    duck.execute(
        f"CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (merchant_id BIGINT PRIMARY KEY, "
        "local_date DATE, ran_at TIMESTAMP, members BIGINT, outcome VARCHAR)"
    )


def _record(path: str, merchant_id: int, day: date, members: int, outcome: str) -> None:
    with copy_connection(path) as duck:
        _runs_table(duck)
        duck.execute(
            f"INSERT OR REPLACE INTO {RUNS_TABLE} VALUES (?, ?, ?, ?, ?)",
            [merchant_id, day, datetime.now(UTC).replace(tzinfo=None), members, outcome],
        )


def predict_task(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Worker task: once a day per merchant, one sync then a prediction run per due merchant.
    Returns the merchants handled (0 when none is due)."""
    if not settings.analytics_predict_daily:
        return 0
    path = settings.analytics_path
    # The whole run in one turn on the copy: with several processes (serve --workers N, a
    # separate worker) one runs the day's predictions and records them, the others find
    # nothing due when their turn comes. A process that waits longer than a page's read gives
    # up for this tick (another one is predicting) and looks again on the next.
    try:
        with hold_copy(path, wait_seconds=PREDICT_WAIT_SECONDS):
            return _predict_due(sessions, path)
    except CopyBusy:
        return 0


def _predict_due(sessions: sessionmaker[Session], path: str) -> int:
    due = due_merchants(sessions, path)
    if not due:
        return 0
    sync_copy(sessions, path)
    for merchant_id, day in due:
        try:
            outcome = predict_merchant(sessions, path, merchant_id, PredictConfig(), synced=True)
            _record(path, merchant_id, day, outcome.members, "ok")
        except PatronError as exc:  # nothing to fit yet: try again tomorrow
            _record(path, merchant_id, day, 0, exc.code)
            log.info("no predictions", extra={"merchant_id": merchant_id, "reason": exc.code})
    return len(due)
