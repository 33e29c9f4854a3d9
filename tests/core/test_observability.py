"""/metrics, /ready and request ids: what an operator watches, and how lines are tied together."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import make_engine
from patron.core.logging import JsonFormatter, uvicorn_log_config
from patron.webhooks.delivery import fan_out
from patron.worker import run_once
from tests.conftest import Tenant
from tests.webhooks.conftest import add_endpoint, emit_committed


def metric(page: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric on a /metrics page."""
    out: dict[str, float] = {}
    for line in page.splitlines():
        if line.startswith((name + "{", name + " ")):
            key, _, value = line.rpartition(" ")
            out[key[len(name) :]] = float(value)
    return out


def test_metrics_count_requests_by_route_template_and_read_the_backlogs(
    client: TestClient,
    tenant: Tenant,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    add_endpoint(client, tenant, "http://127.0.0.1:9/hook", ["order.created"])
    for n in range(2):
        emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": n})
    assert fan_out(sessions, settings) == 2
    emit_committed(sessions, tenant.merchant_id, "order.created", {"order_id": 3})
    assert client.get("/api/v1/members", headers=tenant.headers).status_code == 200
    assert client.get("/api/v1/members/99999", headers=tenant.headers).status_code == 404
    assert client.get("/api/v1/members/99998", headers=tenant.headers).status_code == 404
    assert client.get("/no/such/page").status_code == 404

    page = client.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    text = page.text
    requests = metric(text, "patron_http_requests_total")
    assert requests['{method="GET",route="/api/v1/members",status="200"}'] == 1
    assert requests['{method="GET",route="/api/v1/members/{member_id}",status="404"}'] == 2
    assert requests['{method="GET",route="unmatched",status="404"}'] == 1
    assert requests['{method="POST",route="/api/v1/webhook-endpoints",status="201"}'] == 1
    latency = metric(text, "patron_http_request_duration_seconds_count")
    assert latency['{method="GET",route="/api/v1/members/{member_id}"}'] == 2
    assert metric(text, "patron_outbox_backlog") == {"": 1}
    assert metric(text, "patron_webhook_deliveries") == {'{status="pending"}': 2}
    assert "# TYPE patron_messages gauge" in text
    assert metric(text, "patron_database_up") == {"": 1}
    assert metric(text, "patron_http_requests_in_flight") == {"": 0}
    pool = metric(text, "patron_db_pool_connections")
    assert set(pool) == {
        '{state="checked_out"}',
        '{state="idle"}',
        '{state="overflow"}',
        '{state="size"}',
    }
    assert pool['{state="size"}'] == 20


def test_worker_task_ages_appear_once_they_have_run(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    run_once(sessions, settings)
    ages = metric(client.get("/metrics").text, "patron_worker_task_last_run_age_seconds")
    assert '{task="webhooks.deliver"}' in ages
    assert '{task="segments.follow_events"}' in ages
    assert all(0 <= age < 60 for age in ages.values())


def test_metrics_token_is_required_when_set(
    engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    guarded = settings.model_copy(update={"metrics_token": "scrape-secret"})
    app = create_app(guarded, engine=engine, clock=clock, run_worker=False)
    with TestClient(app) as c:
        none = c.get("/metrics")
        wrong = c.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = c.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert (none.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert "patron_http_requests_total" not in none.text
    assert "patron_database_up 1.0" in right.text


def test_ready_wants_the_schema_at_head_while_health_only_wants_the_database(
    client: TestClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    assert client.get("/ready").json() == {"status": "ready"}
    bare = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    app = create_app(settings, engine=bare, clock=clock, run_worker=False)
    try:
        with TestClient(app) as c:
            ready = c.get("/ready")
            health = c.get("/health")
    finally:
        bare.dispose()
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert "run `patron migrate`" in ready.json()["reason"]
    assert health.status_code == 200


def test_request_id_is_echoed_made_up_or_replaced_and_logged(
    engine: Engine, clock: FrozenClock, settings: Settings
) -> None:
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)

    @app.get("/_test/log")
    def _log() -> dict[str, str]:
        logging.getLogger("patron.test").warning("inside the request")
        return {}

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("patron.test")
    logger.addHandler(handler)
    try:
        with TestClient(app) as c:
            given = c.get("/_test/log", headers={"X-Request-ID": "till-7:abc-123"})
            made = c.get("/_test/log")
            bad = c.get("/health", headers={"X-Request-ID": "two words\x01"})
    finally:
        logger.removeHandler(handler)
    assert given.headers["x-request-id"] == "till-7:abc-123"
    assert len(made.headers["x-request-id"]) == 32
    assert bad.headers["x-request-id"] not in ("two words\x01", "")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == [
        "till-7:abc-123",
        made.headers["x-request-id"],
    ]
    assert all(line["msg"] == "inside the request" for line in lines)


def test_uvicorn_lines_are_json_too(capsys: object) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(uvicorn_log_config("INFO", True))
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/health", "1.1", 200
        )
        logging.getLogger("uvicorn.error").info(
            "Started server process [%d]", 42, extra={"color_message": "\x1b[36m%d\x1b[0m"}
        )
        logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
        err = capsys.readouterr().err  # type: ignore[attr-defined]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert all("color_message" not in line for line in lines)
    assert [(line["logger"], line["msg"]) for line in lines] == [
        ("uvicorn.access", '127.0.0.1:5000 - "GET /health HTTP/1.1" 200'),
        ("uvicorn.error", "Started server process [42]"),
    ]
