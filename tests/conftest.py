"""Test fixtures: real SQLite and real PostgreSQL, migrated once per test process.

Every test that asks for ``engine`` (or anything built on it) runs twice: on SQLite and on
PostgreSQL. After each test, every table is emptied, so tests may commit like real code does.
Outside CI a missing PostgreSQL skips its half with a reason; in CI (``CI=true``) it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

import patron.models
from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.migrate import upgrade
from patron.tenancy import service as tenancy

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("PATRON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
START = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def pg_available() -> str | None:
    """None if PostgreSQL answers, else the reason it does not."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"


def need_service(reason: str | None) -> None:
    """Skip outside CI, fail in CI: in CI every backend must run."""
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _worker_tag() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("db") / f"patron-{_worker_tag()}.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    need_service(pg_available())
    name = f"patron_test_{_worker_tag()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(patron.models.Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database, once per backend; emptied after the test."""
    eng: Engine = request.getfixturevalue(
        f"{'pg' if request.param == 'postgresql' else 'sqlite'}_engine"
    )
    empty_all_tables(eng)
    yield eng
    empty_all_tables(eng)


@pytest.fixture
def pg_only_engine(pg_engine: Engine) -> Iterator[Engine]:
    """PostgreSQL only (concurrency tests)."""
    empty_all_tables(pg_engine)
    yield pg_engine
    empty_all_tables(pg_engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def sessions(engine: Engine, clock: FrozenClock) -> sessionmaker[Session]:
    return make_session_factory(engine, clock)


@pytest.fixture
def db(engine: Engine, clock: FrozenClock) -> Iterator[Session]:
    """A session for the test body (deferred: it takes no write lock until it writes).

    On SQLite a transaction reads one snapshot: call ``db.rollback()`` (or ``commit()``) before
    reading what other sessions or API calls committed since this session last read.
    """
    session = make_session_factory(engine, clock, read_only=True)()
    yield session
    session.rollback()
    session.close()


@dataclass
class Tenant:
    merchant_id: int
    store_id: int
    online_store_id: int
    api_key: str
    clerk_key: str
    owner_email: str
    owner_password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def clerk_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.clerk_key}"}


def make_tenant(sessions: sessionmaker[Session], slug: str, currency: str = "CNY") -> Tenant:
    with transaction(sessions) as s:
        m = tenancy.create_merchant(s, slug.title(), slug, currency, "Asia/Shanghai", "en")
        store = tenancy.create_store(s, m.id, "S1", "Main street", "store")
        online = tenancy.create_store(s, m.id, "WEB", "Online shop", "online")
        _k, owner_key = tenancy.create_api_key(s, m.id, "owner key", "owner")
        _c, clerk_key = tenancy.create_api_key(s, m.id, "till", "clerk")
        email = f"owner@{slug}.test"
        tenancy.create_staff_user(s, m.id, email, "Owner", "owner", "correct horse 1")
        return Tenant(m.id, store.id, online.id, owner_key, clerk_key, email, "correct horse 1")


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> Tenant:
    """Merchant A with a store, an online shop, an owner key, a clerk key and an owner login."""
    return make_tenant(sessions, "alpha")


@pytest.fixture
def other_tenant(sessions: sessionmaker[Session]) -> Tenant:
    """Merchant B: must never see A's data."""
    return make_tenant(sessions, "bravo")


@pytest.fixture
def settings(engine: Engine, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=str(engine.url.render_as_string(hide_password=False)),
        secret_key="test-secret-key-0123456789",
        worker_in_process=False,
        log_json=False,
        # Tests that drain the worker should not sync and fit models each time.
        analytics_predict_daily=False,
        # Each test its own analytics copy (pages sync it in the background).
        analytics_path=str(tmp_path / "analytics.duckdb"),
    )


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: FrozenClock) -> Iterator[TestClient]:
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    with TestClient(app) as c:
        yield c
