"""The background worker: runs each task until there is nothing left, then sleeps a little.

Inside ``patron serve`` it is a thread (the embedded default); ``patron worker`` runs it as its
own process, and on PostgreSQL several can run at once (tasks claim work with row locks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.deferred import deferred_module
from patron.core.metrics import TASK_LAST_RUN
from patron.coupons.automation import follow_events_task as coupons_follow_events
from patron.coupons.automation import schedule_task as coupons_schedule
from patron.engagement.campaigns.release import release_task as campaigns_release
from patron.engagement.dispatcher import dispatch_messages
from patron.engagement.journeys.engine import run_steps_task as journeys_steps
from patron.engagement.journeys.triggers import follow_events_task as journeys_follow_events
from patron.engagement.journeys.triggers import schedule_task as journeys_schedule
from patron.engagement.segments.tasks import follow_events_task, refresh_due_task
from patron.imports.jobs import run_imports_task
from patron.ledger.tasks import points_schedule
from patron.members.attention import expire_activities_task
from patron.payments.service import payments_task
from patron.programs.tasks import programs_schedule
from patron.tenancy.tasks import purge_task as sign_in_records_purge
from patron.wallet.service import follow_events_task as wallet_follow_events
from patron.webhooks.delivery import deliver_due, fan_out

if TYPE_CHECKING:
    from patron.analytics import predict_run
else:
    # pandas, SciPy, Ibis and DuckDB load when the task first runs, not with every
    # `patron serve` process and command that imports the worker (ADR 0010).
    predict_run = deferred_module("patron.analytics.predict_run")

log = logging.getLogger("patron.worker")

# A task does one batch of work and returns how many items it handled (0 when idle).
Task = Callable[[sessionmaker[Session], Settings], int]


def analytics_predict(sessions: sessionmaker[Session], settings: Settings) -> int:
    """The daily prediction run (:func:`patron.analytics.predict_run.predict_task`)."""
    if not settings.analytics_predict_daily:
        return 0  # without loading pandas, SciPy and DuckDB (seconds of CPU) to learn it
    return predict_run.predict_task(sessions, settings)


# Each domain adds its tasks here (one line each).
TASKS: list[tuple[str, Task]] = [
    ("coupons.follow_events", coupons_follow_events),
    ("coupons.schedule", coupons_schedule),
    ("ledger.points_schedule", points_schedule),
    ("webhooks.fan_out", fan_out),
    ("webhooks.deliver", deliver_due),
    ("segments.follow_events", follow_events_task),
    ("segments.refresh_due", refresh_due_task),
    ("campaigns.release", campaigns_release),
    ("journeys.follow_events", journeys_follow_events),
    ("journeys.schedule", journeys_schedule),
    ("journeys.steps", journeys_steps),
    ("messages", dispatch_messages),
    ("programs.schedule", programs_schedule),
    ("payments.check", payments_task),
    ("members.attention_expiry", expire_activities_task),
    ("analytics.predict", analytics_predict),
    ("imports.run", run_imports_task),
    ("tenancy.purge_sign_in_records", sign_in_records_purge),
    ("wallet.follow_events", wallet_follow_events),
]


# Tasks that wait on other people's servers, or that run for long, each run in a thread of
# their own, so a slow receiver or a model fit delays only its own lane, never segments,
# journeys or messages (ADR 0041).
OWN_LANE = frozenset({"webhooks.deliver", "analytics.predict"})


def _run_tasks(
    tasks: list[tuple[str, Task]], sessions: sessionmaker[Session], settings: Settings
) -> int:
    done = 0
    for name, task in tasks:
        try:
            done += task(sessions, settings)
        except Exception:
            log.exception("worker task failed", extra={"task": name})
        TASK_LAST_RUN[name] = time.time()
    return done


def run_once(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Run every task once, one after the other; return the total work done."""
    return _run_tasks(TASKS, sessions, settings)


def _run_lane(
    tasks: list[tuple[str, Task]],
    sessions: sessionmaker[Session],
    settings: Settings,
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        if _run_tasks(tasks, sessions, settings) == 0:
            stop.wait(settings.worker_poll_seconds)


def run_forever(
    sessions: sessionmaker[Session], settings: Settings, stop: threading.Event | None = None
) -> None:
    """Run the tasks until ``stop`` is set: those in :data:`OWN_LANE` each in a thread of
    their own, the rest in turn in this thread."""
    stop = stop or threading.Event()
    log.info("worker started", extra={"tasks": [name for name, _ in TASKS]})
    lanes = [
        threading.Thread(
            target=_run_lane,
            args=([(name, task)], sessions, settings, stop),
            name=f"patron-worker-{name}",
            daemon=True,
        )
        for name, task in TASKS
        if name in OWN_LANE
    ]
    for lane in lanes:
        lane.start()
    _run_lane([t for t in TASKS if t[0] not in OWN_LANE], sessions, settings, stop)
    for lane in lanes:
        lane.join(settings.webhook_timeout_seconds + 30)
    log.info("worker stopped")


class InProcessWorker:
    """The worker as a daemon thread of the web process."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self._settings = settings
        self._sessions = sessions
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_forever,
            args=(sessions, settings, self._stop),
            name="patron-worker",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)


def drain(sessions: sessionmaker[Session], settings: Settings, max_rounds: int = 100) -> int:
    """Run tasks until idle (tests and CLI); returns the total work done."""
    total = 0
    for _ in range(max_rounds):
        done = run_once(sessions, settings)
        total += done
        if done == 0:
            break
        time.sleep(0)
    return total
