"""Incremental copy of the operational tables into the DuckDB analytics file (ADR 0501).

Per table (specs in :mod:`patron.analytics.sources`):

- ``append``: immutable rows; read ``id > last id``.
- ``updated``: rows carrying ``updated_at``; read ``updated_at >= last seen``, replace them.
- ``full``: small tables (merchants, stores); re-read whole.
- ``refresh_by``: an order's status and ``refunded_minor`` change only through a refund, so
  orders (and their lines) named by refunds newer than the last synced refund are read again
  and replaced.

Rows are read with a server-side cursor in chunks (``yield_per``), turned into Arrow tables
and bulk-inserted. Times are stored naive UTC, plus ``<name>_local``: the merchant's
wall-clock time that every metric buckets by. No DuckDB scanner extension is used (they
download at run time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import BigInteger, Boolean, Date, Engine, Integer, and_, select

from patron.analytics.program_sources import ALL_SPECS
from patron.analytics.sources import AnySelect, TableSpec, local_name
from patron.core.db import UTCDateTime
from patron.tenancy.models import Merchant

STATE_TABLE = "_sync_state"
# The ``_sync_state`` row that marks a complete sync (no table has this name).
COMPLETE = "*"
CHUNK_ROWS = 50_000
# PostgreSQL hands out ids when rows are inserted, not when they commit: a row can become
# visible after a higher id was synced. Each sync re-checks this many ids below the watermark
# and copies those it does not have (ADR 0572).
RESCAN_IDS = 10_000


@dataclass
class SyncReport:
    """Rows read from the operational database, per table."""

    rows_read: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows_read.values())


def sync(
    engine: Engine,
    duck: duckdb.DuckDBPyConnection,
    specs: Sequence[TableSpec] = ALL_SPECS,
    chunk_rows: int = CHUNK_ROWS,
    rescan_ids: int | None = None,
) -> SyncReport:
    """Bring the analytics copy up to date with ``engine``'s database; returns rows read.

    Each table's rows and its new watermark are committed together in DuckDB, so an
    interrupted sync resumes from the last complete table. ``rescan_ids``: how many ids below
    each ``append`` watermark are checked again for late commits (default ``RESCAN_IDS`` on
    PostgreSQL, 0 on SQLite, whose writers commit one at a time in id order).
    """
    if rescan_ids is None:
        rescan_ids = RESCAN_IDS if engine.dialect.name == "postgresql" else 0
    duck.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (table_name VARCHAR PRIMARY KEY, "
        "last_id BIGINT, last_ts TIMESTAMP, trigger_id BIGINT, synced_at TIMESTAMP)"
    )
    with engine.connect() as conn:
        zones = {int(i): str(z) for i, z in conn.execute(select(Merchant.id, Merchant.timezone))}
    report = SyncReport()
    for spec in specs:
        copier = _Copier(engine, duck, spec, zones, chunk_rows, rescan_ids)
        duck.execute("BEGIN TRANSACTION")
        try:
            state = copier.run(_state(duck, spec.name))
            duck.execute(
                f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES (?, ?, ?, ?, ?)",
                [
                    spec.name,
                    state.get("last_id"),
                    state.get("last_ts"),
                    state.get("trigger_id"),
                    datetime.now(UTC).replace(tzinfo=None),
                ],
            )
            duck.execute("COMMIT")
        except BaseException:
            duck.execute("ROLLBACK")
            raise
        report.rows_read[spec.name] = copier.rows_read
    # The copy's version: when its last complete sync ended (what cached figures are keyed by).
    duck.execute(
        f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES (?, NULL, NULL, NULL, ?)",
        [COMPLETE, datetime.now(UTC).replace(tzinfo=None)],
    )
    return report


def _state(duck: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any]:
    rows = duck.execute(
        f"SELECT last_id, last_ts, trigger_id FROM {STATE_TABLE} WHERE table_name = ?", [name]
    ).fetchall()
    if not rows:
        return {}
    return {"last_id": rows[0][0], "last_ts": rows[0][1], "trigger_id": rows[0][2]}


class _Copier:
    """Copies one spec's changed rows; ``rows_read`` counts what came from the source."""

    def __init__(
        self,
        engine: Engine,
        duck: duckdb.DuckDBPyConnection,
        spec: TableSpec,
        zones: dict[int, str],
        chunk_rows: int,
        rescan_ids: int = 0,
    ) -> None:
        self.engine, self.duck, self.spec = engine, duck, spec
        self.zones, self.chunk_rows, self.rescan_ids = zones, chunk_rows, rescan_ids
        self.query = spec.query()
        self.schema = arrow_schema(self.query, spec.local_times)
        self.rows_read = 0

    def run(self, state: dict[str, Any]) -> dict[str, Any]:
        spec, q = self.spec, self.query
        exists = self.duck.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [spec.name]
        ).fetchall() != [(0,)]
        if exists and self._columns() != list(self.schema.names):
            # The spec's columns changed (a new Patron version): copy the table afresh.
            self.duck.execute(f'DROP TABLE "{spec.name}"')
            exists, state = False, {}
        if not exists:
            self.duck.register("_empty", self.schema.empty_table())
            self.duck.execute(f'CREATE TABLE "{spec.name}" AS SELECT * FROM _empty')
            self.duck.unregister("_empty")
        new = dict(state)
        # Read the trigger's high-water mark first: refunds arriving during this sync are
        # picked up by the next one, never lost between two reads.
        trigger_now = self._trigger_max() if spec.refresh_by is not None else None
        key = q.selected_columns[spec.key]
        if spec.mode == "full":
            self.duck.execute(f'DELETE FROM "{spec.name}"')
            self._copy(q, replace=False)
        elif spec.mode == "append":
            last = int(state.get("last_id") or 0)
            if exists and last and self.rescan_ids:
                self._late_rows(key, last)
            self._copy(q.where(key > last).order_by(key), replace=False)
            new["last_id"] = self._max(spec.key) or last
            if spec.refresh_by is not None and exists and trigger_now is not None:
                lo = int(state.get("trigger_id") or 0)
                # Rows above ``last`` were just read fresh; only older ones need refreshing.
                self._copy(
                    q.where(and_(key <= last, spec.refresh_by(lo, trigger_now))), replace=True
                )
        else:
            since = state.get("last_ts")
            column = q.selected_columns[spec.watermark]
            changed = q if since is None else q.where(column >= since.replace(tzinfo=UTC))
            self._copy(changed, replace=exists)
            new["last_ts"] = self._max(spec.watermark) or since
        if trigger_now is not None:
            new["trigger_id"] = trigger_now
        return new

    def _columns(self) -> list[str]:
        rows = self.duck.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [self.spec.name],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def _late_rows(self, key: Any, last: int) -> None:
        """Copy rows with ids in (last − rescan, last] that committed after they were passed."""
        lo = max(0, last - self.rescan_ids)
        with self.engine.connect() as conn:
            source = conn.execute(
                self.query.with_only_columns(key).where(key > lo, key <= last)
            ).scalars()
            ids = {int(i) for i in source}
        have = self.duck.execute(
            f'SELECT "{self.spec.key}" FROM "{self.spec.name}" WHERE "{self.spec.key}" > ? '
            f'AND "{self.spec.key}" <= ?',
            [lo, last],
        ).fetchall()
        missing = sorted(ids - {int(r[0]) for r in have})
        for start in range(0, len(missing), 1000):
            self._copy(self.query.where(key.in_(missing[start : start + 1000])), replace=True)

    def _trigger_max(self) -> int:
        assert self.spec.trigger_max is not None
        with self.engine.connect() as conn:
            value: Any = conn.execute(self.spec.trigger_max()).scalar()
            return int(value or 0)

    def _max(self, column: str) -> Any:
        # fetchall: DuckDB 2 refuses new work while a result is left unfinished.
        rows = self.duck.execute(f'SELECT max("{column}") FROM "{self.spec.name}"').fetchall()
        return rows[0][0]

    def _copy(self, q: AnySelect, *, replace: bool) -> None:
        name, key = self.spec.name, self.spec.key
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=self.chunk_rows).execute(q)
            for rows in result.partitions():
                chunk = self._arrow(rows)
                self.rows_read += chunk.num_rows
                self.duck.register("_chunk", chunk)
                if replace:
                    self.duck.execute(
                        f'DELETE FROM "{name}" WHERE "{key}" IN (SELECT "{key}" FROM _chunk)'
                    )
                self.duck.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM _chunk')
                self.duck.unregister("_chunk")

    def _arrow(self, rows: Sequence[Any]) -> pa.Table:
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(self.query.selected_columns)
        arrays: dict[str, pa.Array] = {}
        for name, values in zip(self.query.selected_columns.keys(), columns, strict=True):
            typ = self.schema.field(name).type
            if pa.types.is_timestamp(typ):
                arr = pa.array(values, pa.timestamp("us", tz="UTC")).cast(typ)
            else:
                arr = pa.array(values, typ)
            arrays[name] = arr
        for column in self.spec.local_times:
            arrays[local_name(column)] = self._local(arrays[column], arrays["merchant_id"])
        return pa.table(arrays, schema=self.schema)

    def _local(self, utc: pa.Array, merchants: pa.Array) -> pa.Array:
        """Wall-clock time in each row's merchant time zone."""
        out = utc
        aware = utc.cast(pa.timestamp("us", tz="UTC"))
        for zone in sorted({self.zones.get(m, "UTC") for m in merchants.to_pylist()}):
            ids = pa.array([m for m, z in self.zones.items() if z == zone], pa.int64())
            local = pc.local_timestamp(aware.cast(pa.timestamp("us", tz=zone)))
            out = pc.if_else(pc.is_in(merchants, value_set=ids), local, out)
        return out


def arrow_schema(query: AnySelect, local_times: Sequence[str]) -> pa.Schema:
    """The Arrow (and so DuckDB) schema of a spec's rows, from the SQLAlchemy column types."""
    fields = []
    for name, column in query.selected_columns.items():
        fields.append(pa.field(name, _arrow_type(column.type)))
    fields += [pa.field(local_name(c), pa.timestamp("us")) for c in local_times]
    return pa.schema(fields)


def _arrow_type(sa_type: Any) -> pa.DataType:
    if isinstance(sa_type, UTCDateTime):
        return pa.timestamp("us")
    if isinstance(sa_type, Boolean):
        return pa.bool_()
    if isinstance(sa_type, Date):
        return pa.date32()
    if isinstance(sa_type, BigInteger | Integer) or "Integer" in type(sa_type).__name__:
        return pa.int64()
    return pa.string()
