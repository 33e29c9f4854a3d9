"""PostgreSQL-only fixtures for the ledger's concurrency and database-guard tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.db import make_session_factory
from tests.conftest import Tenant, make_tenant


@pytest.fixture
def pg_sessions(pg_only_engine: Engine, clock: FrozenClock) -> sessionmaker[Session]:
    return make_session_factory(pg_only_engine, clock)


@pytest.fixture
def tenant_pg(pg_sessions: sessionmaker[Session]) -> Tenant:
    return make_tenant(pg_sessions, "alpha")
