"""Which rows are a member's: every table with a foreign key to ``members.id``, and the tables
hanging off those (an order's lines, an account's postings), found from the SQLAlchemy metadata
so a table added later is exported without anyone remembering to (ADR 0050)."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, String, Table, Text, select
from sqlalchemy.orm import Session

import patron.models

CHUNK = 500
# Rows above the member's that tell their story: the journal entries their postings belong to
# (the description of each change of balance). (table, child table, child's column)
PARENTS = (("journal_entries", "ledger_postings", "entry_id"),)


@dataclass(frozen=True)
class Branch:
    """Rows of ``table`` whose ``column`` holds an id of a row of ``parent`` (already found)."""

    table: Table
    column: Column[Any]
    parent: str


def _members() -> Table:
    return patron.models.Base.metadata.tables["members"]


@cache
def member_tables() -> tuple[Table, ...]:
    """Tables with a foreign key to ``members.id`` (other than ``members`` itself)."""
    members = _members()
    return tuple(
        table
        for table in patron.models.Base.metadata.sorted_tables
        if table is not members and any(fk.column.table is members for fk in table.foreign_keys)
    )


def member_column(table: Table) -> Column[Any]:
    """The column of ``table`` that names the member (its key to ``members.id``; the key's
    other column, ``merchant_id``, refers to ``members.merchant_id`` — ADR 0060)."""
    members = _members()
    found = [
        fk.parent
        for fk in table.foreign_keys
        if fk.column.table is members and fk.column.name == "id"
    ]
    return found[0]


@cache
def branch_tables(depth: int = 2) -> tuple[Branch, ...]:
    """Tables reached from the member's tables through foreign keys to their ids, ``depth``
    levels down (orders → refunds → refund lines), skipping tables that name the member
    themselves (they are read directly)."""
    direct = {t.name for t in member_tables()} | {"members"}
    reached = set(direct)
    level = set(direct - {"members"})
    out: list[Branch] = []
    for _ in range(depth):
        below: set[str] = set()
        for table in patron.models.Base.metadata.sorted_tables:
            if table.name in reached:
                continue
            for fk in table.foreign_keys:
                if fk.column.table.name in level and fk.column.name == "id":
                    out.append(Branch(table, fk.parent, fk.column.table.name))
                    below.add(table.name)
        reached |= below
        level = below
    return tuple(out)


def is_text(column: Column[Any]) -> bool:
    """A column that can hold a person's words (strings and JSON documents)."""
    return isinstance(column.type, String | Text | JSON) or isinstance(
        getattr(column.type, "impl", None), String | Text | JSON
    )


def text_columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if is_text(c) and not isinstance(c.type, LargeBinary)]


def plain(value: Any) -> Any:
    """A column value as JSON (dates as ISO 8601, decimals as strings, bytes as base64)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def rows_of(session: Session, table: Table, column: Column[Any], ids: Sequence[int]) -> list[Any]:
    """Rows of ``table`` whose ``column`` is one of ``ids``, in id order where there is one."""
    found: list[Any] = []
    order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
    for part in chunks(list(ids)):
        found.extend(session.execute(select(table).where(column.in_(part)).order_by(*order)))
    return found


@dataclass
class MemberRows:
    """Every row of one member, by table name (``members`` included)."""

    rows: dict[str, list[Any]]

    def ids(self, table: str) -> list[int]:
        return [row.id for row in self.rows.get(table, []) if getattr(row, "id", None) is not None]


def collect(session: Session, merchant_id: int, member_id: int) -> MemberRows:
    """Read the member's rows from every table that names them, and from the tables below."""
    members = _members()
    rows: dict[str, list[Any]] = {
        "members": list(
            session.execute(
                select(members).where(
                    members.c.id == member_id, members.c.merchant_id == merchant_id
                )
            )
        )
    }
    for table in member_tables():
        query = select(table).where(member_column(table) == member_id)
        if "merchant_id" in table.c:
            query = query.where(table.c.merchant_id == merchant_id)
        order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
        rows[table.name] = list(session.execute(query.order_by(*order)))
    found = MemberRows(rows)
    for branch in branch_tables():
        parent_ids = found.ids(branch.parent)
        got = rows_of(session, branch.table, branch.column, parent_ids) if parent_ids else []
        seen = {tuple(r) for r in rows.get(branch.table.name, [])}
        rows.setdefault(branch.table.name, []).extend(r for r in got if tuple(r) not in seen)
    metadata = patron.models.Base.metadata
    for name, child, column in PARENTS:
        wanted = sorted({getattr(r, column) for r in rows.get(child, [])})
        table = metadata.tables[name]
        rows[name] = rows_of(session, table, table.c.id, wanted) if wanted else []
    return found
