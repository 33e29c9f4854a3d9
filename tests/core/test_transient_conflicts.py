"""A transaction PostgreSQL rolls back to break a deadlock (or a serialization conflict) is a
503 with Retry-After, not a 500: nothing was written and the same request succeeds when sent
again (ADR 0043; the soak met two such deadlocks in 8,000 checkouts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.http import SessionDep


@pytest.mark.parametrize(
    ("errcode", "status", "code"),
    [
        ("deadlock_detected", 503, "retry"),
        ("serialization_failure", 503, "retry"),
        ("lock_not_available", 500, "internal_error"),  # other operational errors stay 500
    ],
)
def test_a_transaction_the_database_rolled_back_is_a_503_to_retry(
    pg_only_engine: Engine,
    clock: FrozenClock,
    tmp_path: Path,
    errcode: str,
    status: int,
    code: str,
) -> None:
    settings = Settings(
        env="test",
        database_url=pg_only_engine.url.render_as_string(hide_password=False),
        secret_key="test-secret-key-0123456789",
        worker_in_process=False,
        analytics_path=str(tmp_path / "analytics.duckdb"),
    )
    app = create_app(settings, engine=pg_only_engine, clock=clock, run_worker=False)

    @app.get("/_test/conflict")
    def _conflict(session: SessionDep) -> dict[str, str]:
        session.execute(text("CREATE TEMP TABLE written (x int)"))
        # The error PostgreSQL itself raises, with the SQLSTATE it uses for a deadlock victim.
        session.execute(
            text(f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{errcode}'; END $$")
        )
        return {}

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/_test/conflict")
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    if status == 503:
        assert r.headers["retry-after"] == "1"
        assert "same Idempotency-Key" in r.json()["error"]["message"]
