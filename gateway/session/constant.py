"""Constant SELECTs answered in the gateway: `SELECT 1`, `SELECT version()`, `SELECT current_user`, ...

Connection pools and drivers send these as health checks and at connect time, many times a second.
Through the catalog engine each one is a DuckDB statement in a worker thread (~1 ms); here it is a
few Python calls. Only a SELECT list of literals and argument-less session functions, with no
FROM/WHERE/other clause, takes this path; it is still evaluated at every execution (session
values such as current_schema() follow SET). Types and names are PostgreSQL's, the same as the
catalog path gives (tests/gateway/test_constant_queries.py compares the two).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from gateway.router import Kind, Statement
from virtual_schema.pgtypes import PgColumnType
from virtual_schema.schema import ResultColumn

NAME, INT4, TEXT = 19, 23, 25
_ARROW = {NAME: pa.string(), INT4: pa.int32(), TEXT: pa.string()}
_INT4_MAX = 2**31 - 1


class SessionValues(Protocol):
    """What the session functions read (the connection provides it)."""

    def session_value(self, name: str) -> object: ...


Getter = Callable[[SessionValues], object]


@dataclass(frozen=True, slots=True)
class ConstantQuery:
    columns: tuple[ResultColumn, ...]
    getters: tuple[Getter, ...]
    literal_batch: pa.RecordBatch | None = None  # the row when every item is a literal (it is the SQL text)

    def batch(self, session: SessionValues) -> pa.RecordBatch:
        if self.literal_batch is not None:
            return self.literal_batch
        return _batch(self.columns, [get(session) for get in self.getters])


def _batch(columns: tuple[ResultColumn, ...], values: list[object]) -> pa.RecordBatch:
    arrays = [pa.array([v], _ARROW[c.type.oid]) for c, v in zip(columns, values, strict=True)]
    return pa.record_batch(arrays, names=[c.name for c in columns])


# function name -> (PostgreSQL result type, session value it reads)
_FUNCTIONS = {
    "version": TEXT,
    "current_schema": NAME,
    "current_database": NAME,
    "pg_backend_pid": INT4,
}
_SQL_VALUE_FUNCTIONS = {"SVFOP_CURRENT_USER": "current_user", "SVFOP_SESSION_USER": "session_user"}
_ALLOWED_KEYS = frozenset({"targetList", "limitOption", "op"})


def constant_query(stmt: Statement) -> ConstantQuery | None:
    """The constant SELECT this statement is, or None when it needs the catalog engine."""
    if stmt.kind is not Kind.QUERY or stmt.node_type != "SelectStmt" or stmt.relations:
        return None
    node = stmt.node
    if not _ALLOWED_KEYS.issuperset(node) or node.get("op", "SETOP_NONE") != "SETOP_NONE":
        return None
    if node.get("limitOption", "LIMIT_OPTION_DEFAULT") != "LIMIT_OPTION_DEFAULT":
        return None
    columns: list[ResultColumn] = []
    getters: list[Getter] = []
    literals: list[object] = []
    for item in node.get("targetList", ()):
        target = item.get("ResTarget") if isinstance(item, dict) else None
        if not isinstance(target, dict) or set(target) - {"name", "val", "location"}:
            return None
        got = _expression(target.get("val"))
        if got is None:
            return None
        name, oid, getter, literal = got
        columns.append(ResultColumn(str(target.get("name", name)), PgColumnType(oid)))
        getters.append(getter)
        literals.append(literal)
    if not columns:
        return None
    cols = tuple(columns)
    literal_batch = _batch(cols, literals) if all(v is not _SESSION for v in literals) else None
    return ConstantQuery(cols, tuple(getters), literal_batch)


_SESSION = object()  # marks an item that reads the session (evaluated at every execution)


def _expression(val: Any) -> tuple[str, int, Getter, object] | None:
    if not isinstance(val, dict) or len(val) != 1:
        return None
    ((node_type, node),) = val.items()
    if node_type == "A_Const":
        return _literal(node)
    if node_type == "FuncCall":
        if set(node) - {"funcname", "funcformat", "location"} or node.get("funcformat") != "COERCE_EXPLICIT_CALL":
            return None
        parts = [p.get("String", {}).get("sval") for p in node.get("funcname", ())]
        if len(parts) == 2 and parts[0] == "pg_catalog":
            parts = parts[1:]
        if len(parts) != 1 or parts[0] not in _FUNCTIONS:
            return None
        fname = str(parts[0])
        return fname, _FUNCTIONS[fname], lambda s: s.session_value(fname), _SESSION
    if node_type == "SQLValueFunction":
        svf = _SQL_VALUE_FUNCTIONS.get(node.get("op", ""))
        if svf is None or node.get("typmod", -1) != -1:
            return None
        return svf, NAME, lambda s: s.session_value(svf), _SESSION
    return None


def _literal(node: dict[str, Any]) -> tuple[str, int, Getter, object] | None:
    if "ival" in node:
        ival = int(node["ival"].get("ival", 0))  # pglast leaves the field out for 0
        if -_INT4_MAX - 1 <= ival <= _INT4_MAX:
            return "?column?", INT4, lambda _s: ival, ival
        return None
    if "sval" in node:
        sval = str(node["sval"].get("sval", ""))
        return "?column?", TEXT, lambda _s: sval, sval
    return None  # booleans, floats, NULL: the catalog engine types and names them
