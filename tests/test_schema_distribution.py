"""Every table distributes by merchant (ARCHITECTURE §6, ADR 0060).

A table is a reference table (named in ``REFERENCE_TABLES``, with its reason) or merchant-scoped:
``merchant_id`` in its primary key, in every unique constraint and unique index, and in every
foreign key to another merchant-scoped table (the rule Citus enforces when it distributes a
table by ``merchant_id``). Checked on the models and on the migrated PostgreSQL schema, and the
check itself is shown to catch a table that breaks the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    inspect,
    text,
)

import patron.models
from patron.core.tenant_keys import DISTRIBUTION_COLUMN as M
from patron.core.tenant_keys import REFERENCE_TABLES

METADATA = patron.models.Base.metadata


@dataclass
class Keys:
    """One table's keys, from the models or from a database."""

    name: str
    columns: set[str]
    primary_key: list[str]
    uniques: list[list[str]] = field(default_factory=list)  # constraints and unique indexes
    # (columns, referred table, referred columns)
    foreign_keys: list[tuple[list[str], str, list[str]]] = field(default_factory=list)


def problems(tables: list[Keys]) -> list[str]:
    """What breaks the rule, one line per key (empty: the schema distributes by merchant)."""
    found: list[str] = []
    names = {t.name for t in tables}
    found += [
        f"{n}: named a reference table but no such table" for n in REFERENCE_TABLES.keys() - names
    ]
    for t in tables:
        if t.name in REFERENCE_TABLES:
            found += [
                f"{t.name}: reference table refers to merchant-scoped {parent}"
                for _cols, parent, _ref in t.foreign_keys
                if parent not in REFERENCE_TABLES
            ]
            continue
        if M not in t.columns:
            found.append(f"{t.name}: no {M} and not in REFERENCE_TABLES")
            continue
        if M not in t.primary_key:
            found.append(f"{t.name}: primary key {t.primary_key} lacks {M}")
        found += [f"{t.name}: unique {u} lacks {M}" for u in t.uniques if M not in u]
        for cols, parent, ref in t.foreign_keys:
            if parent in REFERENCE_TABLES:
                continue
            if (M, M) not in set(zip(cols, ref, strict=True)):
                found.append(f"{t.name}: foreign key {cols} → {parent} {ref} lacks {M}")
    return sorted(found)


def from_metadata(tables: list[Table]) -> list[Keys]:
    keys = []
    for t in tables:
        k = Keys(t.name, set(t.c.keys()), [c.name for c in t.primary_key.columns])
        for c in t.constraints:
            if isinstance(c, UniqueConstraint):
                k.uniques.append([col.name for col in c.columns])
            if isinstance(c, ForeignKeyConstraint):
                k.foreign_keys.append(
                    (
                        [col.name for col in c.columns],
                        c.referred_table.name,
                        [e.column.name for e in c.elements],
                    )
                )
        k.uniques += [[col.name for col in i.columns] for i in t.indexes if i.unique]
        keys.append(k)
    return keys


def from_database(engine: Engine) -> list[Keys]:
    insp = inspect(engine)
    keys = []
    for name in insp.get_table_names():
        if name == "alembic_version":
            continue
        k = Keys(
            name,
            {c["name"] for c in insp.get_columns(name)},
            list(insp.get_pk_constraint(name)["constrained_columns"]),
        )
        k.uniques = [list(u["column_names"]) for u in insp.get_unique_constraints(name)]
        k.uniques += [
            list(i["column_names"])
            for i in insp.get_indexes(name)
            if i["unique"] and not i.get("duplicates_constraint")  # a constraint's own index
        ]
        k.foreign_keys = [
            (list(f["constrained_columns"]), f["referred_table"], list(f["referred_columns"]))
            for f in insp.get_foreign_keys(name)
        ]
        keys.append(k)
    return keys


def test_every_model_table_distributes_by_merchant() -> None:
    assert problems(from_metadata(list(METADATA.sorted_tables))) == []


def test_reference_tables_are_few_and_each_has_a_reason() -> None:
    assert sorted(REFERENCE_TABLES) == ["login_throttles", "merchants", "outbox_cursors"]
    assert all(reason.strip() for reason in REFERENCE_TABLES.values())


@pytest.fixture
def bad_table() -> Iterator[Table]:
    """A table that breaks the rule three ways, in the models' metadata while the test runs."""
    table = Table(
        "bad_things",
        METADATA,
        Column("id", BigInteger, primary_key=True),
        Column(M, BigInteger, nullable=False),
        Column("member_id", BigInteger, nullable=False),
        Column("code", String(20), nullable=False),
        ForeignKeyConstraint(["member_id"], ["members.id"]),
        UniqueConstraint("code"),
    )
    try:
        yield table
    finally:
        METADATA.remove(table)


def test_the_check_catches_a_table_that_breaks_the_rule(bad_table: Table) -> None:
    assert problems(from_metadata(list(METADATA.sorted_tables))) == [
        "bad_things: foreign key ['member_id'] → members ['id'] lacks merchant_id",
        "bad_things: primary key ['id'] lacks merchant_id",
        "bad_things: unique ['code'] lacks merchant_id",
    ]


def test_the_check_catches_a_table_without_the_merchant() -> None:
    loose = Keys("loose_things", {"id", "note"}, ["id"])
    assert problems([loose]) == [
        "login_throttles: named a reference table but no such table",
        "loose_things: no merchant_id and not in REFERENCE_TABLES",
        "merchants: named a reference table but no such table",
        "outbox_cursors: named a reference table but no such table",
    ]


def test_migrated_postgresql_schema_distributes_by_merchant(pg_only_engine: Engine) -> None:
    tables = from_database(pg_only_engine)
    assert {t.name for t in tables} == set(METADATA.tables)
    assert problems(tables) == []
    # The primary key of a merchant-scoped table is (id, merchant_id), id first: look-ups by id
    # alone keep their index.
    orders = next(t for t in tables if t.name == "orders")
    assert orders.primary_key == ["id", M]


def test_the_database_check_catches_a_table_that_breaks_the_rule(pg_only_engine: Engine) -> None:
    with pg_only_engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE bad_parents (id BIGSERIAL PRIMARY KEY, merchant_id BIGINT)")
        )
        conn.execute(
            text(
                "CREATE TABLE bad_things (id BIGSERIAL PRIMARY KEY, merchant_id BIGINT, "
                "parent_id BIGINT REFERENCES bad_parents (id), code TEXT UNIQUE)"
            )
        )
    try:
        assert [p for p in problems(from_database(pg_only_engine)) if "bad_" in p] == [
            "bad_parents: primary key ['id'] lacks merchant_id",
            "bad_things: foreign key ['parent_id'] → bad_parents ['id'] lacks merchant_id",
            "bad_things: primary key ['id'] lacks merchant_id",
            "bad_things: unique ['code'] lacks merchant_id",
        ]
    finally:
        with pg_only_engine.begin() as conn:
            conn.execute(text("DROP TABLE bad_things, bad_parents"))


def _set_null_spelling(diff: object) -> bool:
    """PostgreSQL reports ``ON DELETE SET NULL (member_id)`` where the model says ``SET NULL``
    (its DDL hook adds the column, core/tenant_keys.py): the same key, not a difference."""
    return (
        isinstance(diff, tuple)
        and diff[0] in {"add_fk", "remove_fk"}
        and ((diff[1].ondelete or "").startswith("SET NULL"))
    )


def test_models_and_migrated_postgresql_schema_agree(pg_only_engine: Engine) -> None:
    with pg_only_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, METADATA)
    set_null = [d for d in diffs if _set_null_spelling(d)]
    assert [d for d in diffs if not _set_null_spelling(d)] == []
    # Each such key appears once in the database's spelling, clearing only its own column...
    removed = sorted(
        (d[1].name, d[1].ondelete, d[1].column_keys[0]) for d in set_null if d[0] == "remove_fk"
    )
    assert removed and all(rule == f"SET NULL ({column})" for _, rule, column in removed)
    # ...and once in the model's.
    added = sorted((d[1].name, d[1].ondelete) for d in set_null if d[0] == "add_fk")
    assert added == [(name, "SET NULL") for name, _, _ in removed]


def test_index_on_id_serves_lookups_by_id(pg_only_engine: Engine) -> None:
    """``session.get(Member, id)`` (id alone) uses the primary key's index, not a scan."""
    with pg_only_engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(text("EXPLAIN SELECT * FROM members WHERE id = 1")).scalars().all()
        )
    assert "pk_members" in plan


def test_models_and_migrated_sqlite_schema_agree_but_for_the_rowid(sqlite_engine: Engine) -> None:
    """SQLite differs from the models exactly where ADR 0060 says: ``PRIMARY KEY (id)`` (the
    rowid) plus ``UNIQUE (id, merchant_id)``, and the SET NULL keys stay one column."""
    with sqlite_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, METADATA)
    scoped = {
        t.name for t in METADATA.sorted_tables if [c.name for c in t.primary_key] == ["id", M]
    }
    assert len(scoped) == 76
    assert sorted(d[1].name for d in diffs if d[0] == "remove_constraint") == sorted(
        f"uq_{t}_id_{M}" for t in scoped
    )
    in_db = sorted((d[1].name, tuple(d[1].column_keys)) for d in diffs if d[0] == "remove_fk")
    in_models = sorted(
        (d[1].name, tuple(d[1].column_keys), d[1].ondelete) for d in diffs if d[0] == "add_fk"
    )
    assert len(in_db) == 19
    assert in_models == [(name, (*cols, M), "SET NULL") for name, cols in in_db]
    # SQLite does not enforce declared lengths: 0019_idemkeys widens the key columns on
    # PostgreSQL only (ADR 0034), so here the old lengths stay in the DDL text.
    lengths = sorted(
        (m[2], m[3], m[5].length, m[6].length)
        for d in diffs
        if isinstance(d, list)
        for m in d
        if m[0] == "modify_type"
    )
    assert lengths == [
        ("idempotency_keys", "key", 200, 255),
        ("journal_entries", "object_id", 120, 200),
        ("mall_orders", "idempotency_key", 120, 200),
    ]
    kinds = {d[0] for d in diffs if not isinstance(d, list)}
    assert kinds == {"remove_constraint", "remove_fk", "add_fk"}
    assert all(m[0] == "modify_type" for d in diffs if isinstance(d, list) for m in d)
