"""Database engine, sessions and the column types every table uses.

SQLite (WAL, foreign keys on) is the embedded default; PostgreSQL (psycopg 3) is production.
The edge owns the transaction: API requests, worker tasks and CLI commands open a session with
:func:`transaction` and commit at their end; services only ``flush()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from patron.core.clock import Clock
from patron.core.config import get_settings
from patron.core.errors import DatabaseUnavailable

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (auto-increment).
BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Units of work that write take the lock at BEGIN (IMMEDIATE), so two writers queue on
    # busy_timeout instead of failing when a read lock cannot be upgraded. Read-only sessions
    # begin DEFERRED and never block writers (WAL).
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


# Seconds a PostgreSQL connection attempt may take before the database counts as unreachable.
CONNECT_TIMEOUT = 10
# The connection pool of every engine (``patron serve`` sizes its own from the settings): more
# connections than requests in flight (PATRON_MAX_REQUESTS_IN_FLIGHT) plus the worker, and a
# short wait for one, so a saturated pool answers 503 quickly instead of queueing for 30 s.
POOL_SIZE = 20
POOL_OVERFLOW = 10
POOL_TIMEOUT = 5.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with Patron's settings for each backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                reason = "a file is in the way" if folder.is_file() else exc.strerror or exc
                raise DatabaseUnavailable(
                    f"cannot create the database folder {folder}: {reason}"
                ) from exc
        if parsed.database and parsed.database != ":memory:":
            kwargs.setdefault("pool_size", POOL_SIZE)
            kwargs.setdefault("max_overflow", POOL_OVERFLOW)
            kwargs.setdefault("pool_timeout", POOL_TIMEOUT)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=kwargs.pop("hide_parameters", True),
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT)
    kwargs.setdefault("pool_pre_ping", True)
    # Statement parameters are members' emails, phones and ids: never in an error's text or a
    # log line (docs/decisions/0018-no-personal-data-in-logs.md).
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        # libpq waits for the operating system's TCP timeout (minutes) on a host that does
        # not answer; a server that is up answers in well under a second.
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT)
    return create_engine(parsed, **kwargs)


def make_session_factory(
    engine: Engine, clock: Clock | None = None, *, read_only: bool = False
) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` carrying ``clock`` (see :mod:`patron.core.clock`).

    ``read_only`` sessions begin DEFERRED on SQLite (no write lock); on PostgreSQL nothing changes.
    """
    info: dict[str, Any] = {}
    if clock is not None:
        info["clock"] = clock
    bind = engine.execution_options(sqlite_begin="DEFERRED") if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False, info=info)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_ALL_OR_NOTHING = "patron.all_or_nothing"


@contextmanager
def all_or_nothing(session: Session) -> Iterator[None]:
    """A unit of work whose every error rolls back the session's whole transaction (ADR 0900):
    its steps need no savepoints of their own (:func:`savepoint` skips them), which saves two
    round trips each. For operations that are the whole of their transaction (a checkout
    commit); a caller that catches the error finds the session rolled back."""
    session.info[_ALL_OR_NOTHING] = session.info.get(_ALL_OR_NOTHING, 0) + 1
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info[_ALL_OR_NOTHING] -= 1


def in_all_or_nothing(session: Session) -> bool:
    """Is the session inside :func:`all_or_nothing`?"""
    return bool(session.info.get(_ALL_OR_NOTHING))


def savepoint(session: Session) -> AbstractContextManager[Any]:
    """A savepoint around a step whose refusal must leave the session as it was, unless the
    step runs inside :func:`all_or_nothing` (where a refusal rolls back everything anyway)."""
    return nullcontext() if in_all_or_nothing(session) else session.begin_nested()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def display_url(url: str) -> str:
    """The database URL as it may be shown to a person (password hidden)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as given: it holds no password we know of
        return url


def database_unavailable(exc: BaseException, url: str) -> DatabaseUnavailable | None:
    """``exc`` as a :class:`DatabaseUnavailable` when it means the database at ``url`` cannot
    be reached, opened or used (no schema yet); ``None`` for any other error (a bug to show)."""
    if not isinstance(exc, DBAPIError):
        return None
    reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__
    where = display_url(url)
    if isinstance(exc, ProgrammingError) and getattr(exc.orig, "sqlstate", None) == "42P01":
        return DatabaseUnavailable(f"the database {where} has no schema yet: run `patron migrate`")
    if not isinstance(exc, OperationalError):
        return None
    if "no such table" in reason:
        return DatabaseUnavailable(f"the database {where} has no schema yet: run `patron migrate`")
    if exc.statement is None or exc.connection_invalidated:
        # Raised while connecting (SQLAlchemy has no statement yet) or the connection dropped.
        return DatabaseUnavailable(f"cannot connect to the database {where}: {reason}")
    if "readonly database" in reason or "unable to open database file" in reason:
        return DatabaseUnavailable(f"cannot write to the database {where}: {reason}")
    return None


def explain_database_error(exc: BaseException) -> DatabaseUnavailable | None:
    """:func:`database_unavailable` for the configured database (``PATRON_DATABASE_URL``)."""
    return database_unavailable(exc, get_settings().database_url)


def check_database(engine: Engine, url: str) -> None:
    """Connect once to ``engine`` (made from ``url``) and run ``SELECT 1``;
    :class:`DatabaseUnavailable` if that fails."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except DBAPIError as exc:
        problem = database_unavailable(exc, url)
        if problem is None:
            raise
        raise problem from exc
