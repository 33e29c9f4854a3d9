"""Keys that carry the merchant, so the schema distributes by tenant (ARCHITECTURE §6, ADR 0060).

Citus puts every row of one merchant on one shard when each table is distributed by
``merchant_id``; it then requires ``merchant_id`` in every primary key and unique constraint of
a distributed table, and in every foreign key between two distributed tables. Tables shared by
all merchants are *reference tables* (copied to every node) and are named in
:data:`REFERENCE_TABLES`, with the reason. Every other table is merchant-scoped:

- it mixes in :class:`MerchantScoped`: primary key ``(id, merchant_id)``; ``id`` still comes from
  one sequence (PostgreSQL) or the rowid (SQLite), so it stays unique on its own and the ORM keeps
  ``id`` alone as the identity (``session.get(Model, id)`` is unchanged);
- its unique constraints end with ``merchant_id``;
- a reference to another merchant-scoped table is :func:`merchant_fk` ``(x_id, merchant_id) →
  (id, merchant_id)``, which also makes the database refuse a row pointing at another merchant's
  row. A reference to a reference table (``merchants``) stays a one-column key.

``id`` comes first in the keys (Citus asks for the column, not its position): look-ups by ``id``
alone — the ORM's, the outbox's, the analytics sync's — keep using the primary key's index.

SQLite cannot generate ids for a composite primary key (only ``INTEGER PRIMARY KEY`` is the
rowid), so there the table keeps ``PRIMARY KEY (id)`` and gains ``UNIQUE (id, merchant_id)``,
which the composite foreign keys refer to. A composite key whose rows are kept when the parent
goes (``ON DELETE SET NULL``) must clear only ``x_id``, never ``merchant_id``: PostgreSQL says so
with ``SET NULL (x_id)``; SQLite cannot, so there that one key stays ``x_id → id``. The DDL
hooks below render both; ``tests/test_schema_distribution.py`` holds every table to the rule.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, ForeignKeyConstraint, PrimaryKeyConstraint
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql.compiler import DDLCompiler

from patron.core.db import BigId

DISTRIBUTION_COLUMN = "merchant_id"

# Tables shared by all merchants (Citus reference tables): no merchant_id, or not keyed by one.
REFERENCE_TABLES: dict[str, str] = {
    "merchants": "the tenants themselves: every merchant-scoped table refers to its row",
    "login_throttles": "failed sign-ins counted by e-mail and address before any merchant is "
    "known (ADR 0016)",
    "outbox_cursors": "one read position per outbox consumer, across every merchant's events",
}


class MerchantScoped:
    """Mixin of a merchant-scoped table: ``id`` and ``merchant_id``, keyed together."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True, sort_order=-2)
    merchant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True, sort_order=-1
    )

    @declared_attr.directive
    @classmethod
    def __mapper_args__(cls) -> dict[str, Any]:
        # The ORM identity is ``id`` alone (globally unique): callers never pass the merchant.
        return {"primary_key": [cls.__table__.c.id]}  # type: ignore[attr-defined]


def merchant_fk(column: str, parent: str, *, ondelete: str | None = None) -> ForeignKeyConstraint:
    """``(column, merchant_id) → parent (id, merchant_id)``: a reference within one merchant."""
    return ForeignKeyConstraint(
        [column, DISTRIBUTION_COLUMN],
        [f"{parent}.id", f"{parent}.{DISTRIBUTION_COLUMN}"],
        ondelete=ondelete,
    )


def _set_null_column(constraint: ForeignKeyConstraint) -> str | None:
    """The one column a merchant-scoped ``SET NULL`` key clears, else ``None``."""
    if (constraint.ondelete or "").upper() != "SET NULL":
        return None
    names = [c.name for c in constraint.columns]
    if len(names) != 2 or names[1] != DISTRIBUTION_COLUMN:
        return None
    return names[0]


@compiles(ForeignKeyConstraint, "postgresql")
def _fk_postgresql(constraint: ForeignKeyConstraint, compiler: DDLCompiler, **kw: Any) -> str:
    text = compiler.visit_foreign_key_constraint(constraint, **kw)
    column = _set_null_column(constraint)
    if column is None:
        return text
    return text.replace("ON DELETE SET NULL", f"ON DELETE SET NULL ({column})")


@compiles(ForeignKeyConstraint, "sqlite")
def _fk_sqlite(constraint: ForeignKeyConstraint, compiler: DDLCompiler, **kw: Any) -> str:
    column = _set_null_column(constraint)
    if column is None:
        return compiler.visit_foreign_key_constraint(constraint, **kw)
    parent = constraint.elements[0].column.table.name
    name = compiler.preparer.format_constraint(constraint)
    prefix = f"CONSTRAINT {name} " if name else ""
    return f"{prefix}FOREIGN KEY({column}) REFERENCES {parent} (id) ON DELETE SET NULL"


@compiles(PrimaryKeyConstraint, "sqlite")
def _pk_sqlite(constraint: PrimaryKeyConstraint, compiler: DDLCompiler, **kw: Any) -> str:
    if not _scoped_pk(constraint.table):
        return compiler.visit_primary_key_constraint(constraint, **kw)
    table = constraint.table.name
    return (
        f"CONSTRAINT pk_{table} PRIMARY KEY (id), "
        f"CONSTRAINT uq_{table}_id_{DISTRIBUTION_COLUMN} UNIQUE (id, {DISTRIBUTION_COLUMN})"
    )


def _scoped_pk(table: Any) -> bool:
    return [c.name for c in table.primary_key.columns] == ["id", DISTRIBUTION_COLUMN]


@compiles(CreateColumn, "sqlite")
def _column_sqlite(create: CreateColumn, compiler: DDLCompiler, **kw: Any) -> str:
    column = create.element
    if column.name == "id" and column.table is not None and _scoped_pk(column.table):
        # The rowid alias: PRIMARY KEY (id) below, so SQLite hands out the ids.
        return f"{compiler.preparer.format_column(column)} INTEGER NOT NULL"
    text: str = compiler.visit_create_column(create, **kw)  # type: ignore[no-untyped-call]
    return text
