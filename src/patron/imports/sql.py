"""Raw bulk statements for imports: id allocation and multi-row inserts on both databases.

The ORM costs about ten times the raw driver per row (ARCHITECTURE §7), and an import writes
millions of rows, so the writer goes to the driver: ``executemany`` on SQLite (one prepared
statement, one transaction) and ``COPY … FROM STDIN`` on PostgreSQL (measured faster than
``executemany`` there; see docs/benchmarks.md). Values must then be in each driver's storage
form — what SQLAlchemy's column types would have produced — which :class:`Encoder` provides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from patron.core.db import is_postgres

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # the format SQLAlchemy's SQLite DateTime writes


class Encoder:
    """Python values → what the raw driver stores for our column types."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def ts(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if self.postgres:
            return value
        # = strftime(_SQLITE_DATETIME), a quarter faster: a million-line import calls it 1.5M times
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def day(self, value: date | None) -> Any:
        if value is None or self.postgres:
            return value
        return value.isoformat()

    def doc(self, value: Any) -> Any:
        # COPY's text format and SQLite's TEXT both take the JSON text.
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def flag(self, value: bool) -> Any:
        return value if self.postgres else int(value)


def listed(column: Any, values: list[Any], postgres: bool) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``= ANY(array)``: one parameter instead of
    thousands, which psycopg would otherwise re-parse for every batch's new statement text."""
    if postgres:
        matches: ColumnElement[bool] = column == any_(
            bindparam(None, values, type_=ARRAY(column.type))
        )
        return matches
    found: ColumnElement[bool] = column.in_(values)
    return found


class BulkSql:
    """Inserts and id allocation on the session's own connection (inside its transaction)."""

    def __init__(self, session: Session, *, use_copy: bool = True) -> None:
        self.session = session
        self.postgres = is_postgres(session)
        self.use_copy = use_copy and self.postgres
        self.enc = Encoder(self.postgres)
        self._sequences: dict[str, str] = {}
        if self.postgres:
            self.custom_plans()

    def custom_plans(self) -> None:
        """Plan each statement of this transaction for its own values (PostgreSQL).

        psycopg prepares a statement after five runs and PostgreSQL may then keep a generic
        plan, made for unknown values with the table statistics of an import's first minutes
        (nearly empty tables): it filtered ``value = ANY(…)`` over all of a merchant's
        identities instead of probing the index, 30 s per 100,000 lines. ``SET LOCAL`` lasts
        until the transaction ends, so the writer repeats it after each commit.
        """
        self.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))

    def _driver(self) -> Any:
        return self.session.connection().connection.driver_connection

    def allocate_ids(self, table: str, count: int) -> Iterator[int]:
        """``count`` fresh primary keys for ``table``.

        PostgreSQL: values drawn from the table's own sequence, so concurrent writers (the API)
        never collide. SQLite: max(id)+1…; safe because a SQLite write transaction holds the
        database lock from BEGIN IMMEDIATE to commit, so nobody else inserts meanwhile.
        """
        if count <= 0:
            return iter(())
        if self.postgres:
            sequence = self._sequences.get(table)
            if sequence is None:
                sequence = self.session.execute(
                    text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}
                ).scalar_one()
                self._sequences[table] = sequence
            # One row holding an array: thousands of one-column rows cost more to fetch.
            cursor = self._driver().cursor()
            try:
                cursor.execute(
                    "SELECT array(SELECT nextval(%s::regclass) FROM generate_series(1, %s))",
                    (sequence, count),
                )
                (ids,) = cursor.fetchone()
            finally:
                cursor.close()
            return iter(ids)
        top = self.session.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
        return iter(range(int(top) + 1, int(top) + 1 + count))

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (tuples in ``columns`` order, already encoded) in one go."""
        if not rows:
            return
        names = ", ".join(columns)
        cursor = self._driver().cursor()
        try:
            if self.use_copy:
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                mark = "%s" if self.postgres else "?"
                marks = ", ".join([mark] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        finally:
            cursor.close()
