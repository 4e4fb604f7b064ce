"""Temporary tables read by a semantic statement become VALUES lists inside it.

Tableau keeps large filters, sets and top-N lists in temporary tables and joins them with the data source
(`… JOIN "#Tableau_…_Filter" ON orders.status = "#Tableau_…_Filter"."X_status"`). Temp tables live in the
gateway's catalog engine and models in the warehouse, so neither can run such a statement as it is. Each
temp table it reads becomes a derived table `(SELECT CAST(v.c0 AS <declared type>) AS "<column>", … FROM
(VALUES …) AS v(c0, …))` and the statement compiles into one warehouse statement, on DuckDB and Databricks
alike. A table whose rows are all distinct is read as `SELECT DISTINCT`, so an inner join with it only
filters the model's rows for the compiler (its semi-join rule) and every metric stays exact.

The compiler sees each list as one row of marker strings, so a statement compiles once per shape of the temp
tables it reads (column types, distinct or not, empty or not), not once per content. The rows are rendered
as string literals by the dialect's own generator and written over the marker row into the compiled SQL each
time the statement runs, so a prepared statement reads the rows the table holds at Execute, as PostgreSQL's
does.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
from pglast.parser import parse_sql_json, scan

from gateway.session.explain import char_offset
from virtual_schema import errors as E
from virtual_schema.compiler.api import CompiledQuery
from virtual_schema.compiler.shape import Constant, render_literal
from virtual_schema.errors import PgError
from virtual_schema.pgtypes import UNCONSTRAINED_PRECISION, UNCONSTRAINED_SCALE, PgColumnType

MAX_ROWS = 100_000  # rows of temp tables one statement may inline (a Tableau filter holds thousands at most)

_TOKEN = secrets.token_hex(4)  # marker strings no client writes

# PostgreSQL's name for each type a temp column may have here; the value's text form is cast back to it
_TYPE_NAMES = {
    16: "boolean", 20: "bigint", 21: "smallint", 23: "integer", 25: "text", 700: "real", 701: "double precision",
    1700: "numeric", 1043: "varchar", 1042: "char", 1082: "date", 1083: "time", 1114: "timestamp",
    1184: "timestamptz", 2950: "uuid", 1186: "interval", 17: "bytea", 114: "json", 3802: "jsonb",
}


@dataclass(frozen=True, slots=True)
class TempTable:
    """A temp table's declared columns and its current rows."""

    columns: tuple[tuple[str, PgColumnType], ...]
    rows: pa.Table


@dataclass(frozen=True, slots=True)
class Inlined:
    """A statement with its temp tables as VALUES lists: `sql` compiles; `fill` writes the rows in."""

    sql: str
    markers: tuple[tuple[str, str], ...]  # (table, marker prefix) for each non-empty table
    tables: Mapping[str, TempTable]
    spans: tuple[tuple[int, int, int, int], ...]  # (start, end) in sql and (start, end) in the original, per reference

    def original_position(self, err: PgError) -> PgError:
        """The error with its position moved back into the statement as the client wrote it."""
        if err.position is None:
            return err
        pos, delta = err.position - 1, 0
        for start, end, old_start, old_end in self.spans:
            if pos < start:
                break
            if pos < end:  # inside a VALUES list: the temp table's name
                err.position = old_start + 1
                return err
            delta += (end - start) - (old_end - old_start)
        err.position = pos - delta + 1
        return err

    def fill(self, compiled: CompiledQuery, dialect: str) -> CompiledQuery:
        """The compiled SQL with each marker row replaced by the table's rows, rendered for `dialect`."""
        sql = compiled.sql
        for name, marker in self.markers:
            table = self.tables[name]
            marked = _row([_marker(marker, i) for i in range(len(table.columns))], dialect)
            if marked not in sql:
                if compiled.empty:  # answered from the schema: the SQL never runs
                    continue
                raise PgError(E.INTERNAL_ERROR, f'the rows of temporary table "{name}" have no place in the compiled '
                                                "statement")
            sql = sql.replace(marked, _rows(table, dialect))
        return CompiledQuery(sql, compiled.columns, compiled.param_types, compiled.empty, compiled.param_order)


def read_temp_tables(sql: str, temp: Collection[str]) -> list[str]:
    """The temp tables (by name) the statement reads, in order of first reference; CTEs of the same name hide them."""
    return list(dict.fromkeys(name for name, _, _, _ in _references(sql, temp)))


def inline(sql: str, tables: Mapping[str, TempTable]) -> Inlined:
    """Replace each reference to one of `tables` with a derived table over a VALUES list (see the module)."""
    total = sum(t.rows.num_rows for t in tables.values())
    if total > MAX_ROWS:
        big = max(tables, key=lambda n: tables[n].rows.num_rows)
        raise PgError(E.FEATURE_NOT_SUPPORTED,
                      f'temporary table "{big}" has {tables[big].rows.num_rows} rows: a statement that reads semantic '
                      f"tables can read at most {MAX_ROWS} rows of temporary tables",
                      hint="Filter with an IN list or a subquery over the semantic table instead.")
    derived: dict[str, str] = {}
    markers: list[tuple[str, str]] = []
    for k, (name, table) in enumerate(tables.items()):
        marker = f"ssg_inline_{_TOKEN}_{k}"
        derived[name] = _derived(table, marker)
        if table.rows.num_rows:
            markers.append((name, marker))
    out: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    last = length = 0
    for name, start, end, aliased in sorted(_references(sql, tables), key=lambda r: r[1]):
        text = f"({derived[name]})" if aliased else f"({derived[name]}) AS {quote_ident(name)}"
        out += [sql[last:start], text]
        length += start - last
        spans.append((length, length + len(text), start, end))
        length += len(text)
        last = end
    out.append(sql[last:])
    return Inlined("".join(out), tuple(markers), tables, tuple(spans))


def _references(sql: str, temp: Collection[str]) -> list[tuple[str, int, int, bool]]:
    """(name, start, end, has alias) in characters of each RangeVar naming a temp table (`t`, `pg_temp.t`)."""
    tree = json.loads(parse_sql_json(sql))
    found: list[dict[str, Any]] = []
    ctes: set[str] = set()
    _walk(tree, found, ctes)
    hits = [rv for rv in found if rv["relname"] in temp and rv["relname"] not in ctes
            and rv.get("schemaname") in (None, "pg_temp") and not rv.get("catalogname")]
    if not hits:
        return []
    tokens = scan(sql)
    by_start = {t.start: i for i, t in enumerate(tokens)}
    out = []
    for rv in hits:
        start = char_offset(sql, rv["location"])  # parse-tree locations count bytes, the scanner's characters
        i = by_start[start]
        if rv.get("schemaname"):
            i += 2  # pg_temp . name
        out.append((rv["relname"], start, tokens[i].end + 1, "alias" in rv))
    return out


def _walk(node: Any, found: list[dict[str, Any]], ctes: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "RangeVar":
                found.append(value)
                continue
            if key == "CommonTableExpr":
                ctes.add(value["ctename"])
            _walk(value, found, ctes)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found, ctes)


def quote_ident(name: str) -> str:
    """An identifier quoted always (so its case and characters survive any SQL it is written into)."""
    return '"' + name.replace('"', '""') + '"'


def type_sql(t: PgColumnType) -> str:
    """The type as PostgreSQL spells it in a cast or a column definition, with its typmod."""
    name = _TYPE_NAMES.get(t.oid)
    if name is None:
        raise PgError(E.FEATURE_NOT_SUPPORTED,
                      f"a temporary table column of type {t.name} cannot hold semantic query results or be read "
                      "together with semantic tables")
    if t.oid in (1043, 1042) and t.typmod >= 5:
        return f"{name}({t.typmod - 4})"
    if t.oid == 1700 and t.typmod >= 4:
        mod = t.typmod - 4
        return f"numeric({mod >> 16},{mod & 0xFFFF})"
    return name


def _read_as(t: PgColumnType) -> str:
    """The type a column's values are cast to in the warehouse. An unconstrained numeric becomes the catalog's own
    storage for it: a bare DECIMAL is DuckDB's DECIMAL(18,3) and Spark's DECIMAL(10,0), which would round the
    values."""
    if t.oid == 1700 and t.typmod < 4:
        return f"numeric({UNCONSTRAINED_PRECISION},{UNCONSTRAINED_SCALE})"
    return type_sql(t)


def _distinct(rows: pa.Table) -> bool:
    n: int = rows.num_rows
    return n < 2 or int(rows.group_by(rows.column_names).aggregate([]).num_rows) == n


def _derived(table: TempTable, marker: str) -> str:
    """The SELECT that stands for the table: the marker row (or a NULL row filtered out, when empty), cast."""
    n = len(table.columns)
    casts = ", ".join(f"CAST(v.c{i} AS {_read_as(t)}) AS {quote_ident(c)}" for i, (c, t) in enumerate(table.columns))
    names = ", ".join(f"c{i}" for i in range(n))
    if not table.rows.num_rows:
        nulls = ", ".join("NULL" for _ in range(n))
        return f"SELECT DISTINCT {casts} FROM (VALUES ({nulls})) AS v({names}) WHERE false"
    row = ", ".join("'" + _marker(marker, i) + "'" for i in range(n))
    distinct = "DISTINCT " if _distinct(table.rows) else ""
    return f"SELECT {distinct}{casts} FROM (VALUES ({row})) AS v({names})"


def _marker(marker: str, i: int) -> str:
    return f"{marker}_{i}"


def _row(values: list[str | None], dialect: str) -> str:
    return "(" + ", ".join("NULL" if v is None else render_literal(Constant("s", v, 0, 0), dialect)
                           for v in values) + ")"


def _rows(table: TempTable, dialect: str) -> str:
    columns = [[None if v is None else _text(v) for v in col.to_pylist()] for col in table.rows.columns]
    return ", ".join(_row(list(values), dialect) for values in zip(*columns, strict=True))


def _float_text(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)


_TEXT: dict[type, Callable[[Any], str]] = {
    str: str, bool: lambda v: "true" if v else "false", int: str, float: _float_text,
    Decimal: lambda v: format(v, "f"), dt.date: dt.date.isoformat, dt.time: dt.time.isoformat,
    dt.datetime: lambda v: v.isoformat(sep=" "), uuid.UUID: str,
}


def _text(v: object) -> str:
    """A value's text, which the warehouse casts back to the column's type."""
    conv = _TEXT.get(type(v))
    if conv is None:
        raise PgError(E.FEATURE_NOT_SUPPORTED,
                      f"a temporary table value of Python type {type(v).__name__} cannot be read together with "
                      "semantic tables")
    return conv(v)


__all__ = ["MAX_ROWS", "Inlined", "TempTable", "inline", "read_temp_tables", "type_sql"]
