"""The holdout draw: a deterministic pseudo-random number in [0, 10000) per (campaign, member).

``draw = int(md5("{campaign_id}:{member_id}")[:8], 16) % 10000`` — the same number in Python, in
PostgreSQL (``md5`` built in) and in SQLite (the function is registered on the connection), so
the audience snapshot assigns groups in one ``INSERT … SELECT`` and anyone can re-check a row.
A member is held out when ``draw < holdout_bp`` (basis points of the audience).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Integer

BUCKETS = 10000
SQLITE_NAME = "patron_holdout_draw"


def holdout_draw(campaign_id: int, member_id: int) -> int:
    """The recorded draw of one member in one campaign."""
    digest = hashlib.md5(f"{campaign_id}:{member_id}".encode(), usedforsecurity=False)
    return int(digest.hexdigest()[:8], 16) % BUCKETS


class draw_sql(FunctionElement[int]):
    """``draw_sql(campaign_id, member_id)``: :func:`holdout_draw` computed by the database."""

    type = Integer()
    inherit_cache = True


@compiles(draw_sql, "sqlite")
def _draw_sqlite(element: draw_sql, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_NAME}({compiler.process(element.clauses, **kw)})"


@compiles(draw_sql, "postgresql")
def _draw_pg(element: draw_sql, compiler: SQLCompiler, **kw: Any) -> str:
    c, m = (compiler.process(x, **kw) for x in element.clauses)
    text = f"md5(CAST({c} AS text) || ':' || CAST({m} AS text))"
    return f"mod(('x' || substr({text}, 1, 8))::bit(32)::bigint, {BUCKETS})"


def prepare(session: Session) -> None:
    """Make :class:`draw_sql` callable on this session's SQLite connection (no-op elsewhere)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw: Any = connection.connection.dbapi_connection
    raw.create_function(SQLITE_NAME, 2, holdout_draw, deterministic=True)
