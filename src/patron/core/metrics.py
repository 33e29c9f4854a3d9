"""Prometheus metrics at ``/metrics`` and readiness at ``/ready``.

Per server process (docs/operations.md, Monitoring): requests by route template and status,
their latency, requests in flight and refused (admission control), the database pool, and the
age of each worker task's last run in this process. Read from the database at each scrape: the
outbox backlog, messages by status, webhook deliveries by status.

``/metrics`` is open unless ``PATRON_METRICS_TOKEN`` is set; then it wants
``Authorization: Bearer <token>``. ``/ready`` answers 200 when the database answers and its
schema is at the code's head, else 503 with the reason; ``/health`` stays the liveness probe.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.core.admission import Slots
from patron.core.migrate import pending_revisions

# When each worker task of this process last finished a run (wall clock, seconds); the worker
# writes it (patron.worker), /metrics reads it.
TASK_LAST_RUN: dict[str, float] = {}

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Counts read at each scrape: (metric, help, SQL giving (label, count) rows).
_TABLE_GAUGES = (
    (
        "patron_messages",
        "Messages in the outbox by status.",
        "SELECT status, COUNT(*) FROM messages GROUP BY status",
    ),
    (
        "patron_webhook_deliveries",
        "Webhook deliveries by status.",
        "SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status",
    ),
)
_BACKLOG_SQL = "SELECT COUNT(*) FROM outbox_events WHERE fanned_out_at IS NULL"


class RequestMetrics:
    """ASGI middleware: counts each request by method, route template and status, and times it.
    Requests that matched no route (404s, refusals before routing) count as ``unmatched``, so
    scanning random paths cannot create series without end."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(time.perf_counter() - started)


class StateCollector(Collector):
    """Gauges read when scraped: the database's backlogs, the pool, slots, worker tasks."""

    def __init__(self, engine: Engine, slots: Slots) -> None:
        self.engine = engine
        self.slots = slots

    def collect(self) -> Iterator[Metric]:
        yield from self._admission()
        yield from self._pool()
        yield from self._tasks()
        yield from self._database()

    def _admission(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "patron_http_requests_in_flight", "Requests being served.", value=self.slots.busy
        )
        yield GaugeMetricFamily(
            "patron_http_requests_waiting",
            "Requests waiting for a slot.",
            value=len(self.slots.waiting),
        )
        yield GaugeMetricFamily(
            "patron_http_requests_refused",
            "Requests refused with 503 since the process started (no slot in time).",
            value=self.slots.refused,
        )

    def _pool(self) -> Iterator[Metric]:
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):
            return
        family = GaugeMetricFamily(
            "patron_db_pool_connections", "Database pool connections by state.", labels=["state"]
        )
        family.add_metric(["checked_out"], pool.checkedout())
        family.add_metric(["idle"], pool.checkedin())
        family.add_metric(["overflow"], max(pool.overflow(), 0))
        family.add_metric(["size"], pool.size())
        yield family

    def _tasks(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "patron_worker_task_last_run_age_seconds",
            "Seconds since each worker task of this process last finished a run.",
            labels=["task"],
        )
        now = time.time()
        for task, finished in sorted(TASK_LAST_RUN.items()):
            family.add_metric([task], now - finished)
        yield family

    def _database(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("patron_database_up", "1 when the database answered the scrape.")
        try:
            with self.engine.connect() as conn:
                backlog = conn.execute(text(_BACKLOG_SQL)).scalar_one()
                counts = [(g, list(conn.execute(text(sql)))) for g, _h, sql in _TABLE_GAUGES]
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "patron_outbox_backlog", "Outbox events not yet fanned out.", value=backlog
        )
        helps = {name: help_ for name, help_, _sql in _TABLE_GAUGES}
        for name, rows in counts:
            family = GaugeMetricFamily(name, helps[name], labels=["status"])
            for status, count in rows:
                family.add_metric([str(status)], count)
            yield family


def install_metrics(app: FastAPI, engine: Engine, slots: Slots, token: str) -> None:
    """Add ``/metrics`` and ``/ready``, and the middleware that counts requests."""
    registry = CollectorRegistry()
    requests = Counter(
        "patron_http_requests",
        "HTTP requests by method, route template and status.",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "patron_http_request_duration_seconds",
        "Time from a request's arrival to the end of its response.",
        ["method", "route"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    registry.register(StateCollector(engine, slots))
    app.state.metrics_registry = registry

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if token and not _bearer_matches(request.headers.get("authorization"), token):
            return JSONResponse(
                {"error": {"code": "unauthorized", "message": "metrics need their token"}},
                status_code=401,
            )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/ready", tags=["health"], operation_id="ready")
    def ready() -> JSONResponse:
        problem = readiness_problem(engine)
        if problem:
            return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.add_middleware(RequestMetrics, requests=requests, latency=latency)


def readiness_problem(engine: Engine) -> str | None:
    """Why this process should get no traffic yet, or None."""
    try:
        missing = pending_revisions(engine)
    except SQLAlchemyError as exc:
        return f"the database does not answer: {type(exc).__name__}"
    if missing:
        return f"the database schema lacks {missing} migration(s): run `patron migrate`"
    return None


def _bearer_matches(header: str | None, token: str) -> bool:
    given = (header or "").removeprefix("Bearer ").strip()
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())
