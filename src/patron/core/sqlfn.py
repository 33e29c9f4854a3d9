"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean, String


class month_day(FunctionElement[str]):
    """``'MM-DD'`` of a date column."""

    type = String()
    inherit_cache = True


@compiles(month_day, "sqlite")
def _md_sqlite(element: month_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%m-%d', {compiler.process(element.clauses, **kw)})"


@compiles(month_day, "postgresql")
def _md_pg(element: month_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'MM-DD')"


class json_array_has(FunctionElement[bool]):
    """``json_array_has(doc, key, value)``: the JSON array ``doc[key]`` holds string ``value``."""

    type = Boolean()
    inherit_cache = True


@compiles(json_array_has, "sqlite")
def _has_sqlite(element: json_array_has, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({doc}, '$.' || {key}) WHERE json_each.value = {value})"


@compiles(json_array_has, "postgresql")
def _has_pg(element: json_array_has, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"(({doc})::jsonb -> ({key})) ? ({value})"


def has_in_json_array(doc: Any, key: str, value: str) -> ColumnElement[bool]:
    return json_array_has(doc, literal(key), literal(value))
