"""Alembic environment: uses the connection handed in by :func:`patron.core.migrate.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import patron.models
from patron.core.config import get_settings
from patron.core.db import make_engine

target_metadata = patron.models.Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(
        context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    )
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
