"""Temp-table writes whose rows come from a semantic query: `CREATE TEMP TABLE … AS`, `SELECT … INTO TEMP`,
`INSERT INTO temp … SELECT`.

Tableau materialises context filters and extracts of a view this way (`SELECT … INTO TEMPORARY TABLE
"#Tableau_…_Context" FROM …`) and then queries the temp table. The query part is cut out of the statement's
text with PostgreSQL's own scanner and compiled like any semantic query; its rows stream from the warehouse
batch by batch into the catalog engine's temp table, so the table holds exactly what the SELECT alone returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast.parser import scan

from gateway.router import Statement
from gateway.session.copy_plan import copy_columns
from gateway.session.explain import char_offset
from virtual_schema import errors as E
from virtual_schema.errors import PgError
from virtual_schema.pgtypes import PgColumnType


@dataclass(frozen=True, slots=True)
class Load:
    """Where a semantic query's rows go."""

    query: str  # the SELECT, as the client wrote it
    target: str  # the temp table
    create: bool  # CREATE TABLE AS / SELECT INTO (else INSERT)
    columns: tuple[str, ...]  # column names given: CREATE TABLE t (a, b) AS …, INSERT INTO t (a, b) …
    with_data: bool  # not WITH NO DATA
    if_not_exists: bool

    @property
    def tag(self) -> str:
        return "INSERT 0 {}" if not self.create else "SELECT {}" if self.with_data else "CREATE TABLE AS"


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """A Load with the columns it writes: the new table's (name, type), or the INSERT's target columns."""

    load: Load
    columns: tuple[tuple[str, PgColumnType], ...]


def plan_load(load: Load, result: tuple[tuple[str, PgColumnType], ...],
              existing: tuple[tuple[str, PgColumnType], ...] | None) -> LoadPlan:
    """Match the query's result columns to the columns written, with PostgreSQL's errors."""
    if load.create:
        if len(load.columns) > len(result):
            raise PgError(E.SYNTAX_ERROR, "too many column names were specified")
        cols = tuple((load.columns[i] if i < len(load.columns) else n, t) for i, (n, t) in enumerate(result))
        seen: set[str] = set()
        for n, _ in cols:
            if n in seen:
                raise PgError(E.DUPLICATE_COLUMN, f'column "{n}" specified more than once')
            seen.add(n)
        return LoadPlan(load, cols)
    if existing is None:
        raise PgError(E.UNDEFINED_TABLE, f'relation "{load.target}" does not exist')
    by_name = dict(existing)
    listed = copy_columns(load.target, list(by_name), load.columns)  # the column-list check COPY makes too
    targets = tuple((n, by_name[n]) for n in listed) if listed else existing
    if len(result) > len(targets):
        raise PgError(E.SYNTAX_ERROR, "INSERT has more expressions than target columns")
    return LoadPlan(load, targets[:len(result)])


def load_of(stmt: Statement) -> Load:
    """The Load of a CREATE TABLE AS / SELECT INTO / INSERT … SELECT statement (PgError for other shapes)."""
    sql, node = stmt.sql, stmt.node
    tokens = scan(sql)
    names = [t.name for t in tokens]

    def after_relation(location: int, schema: bool) -> int:
        start = char_offset(sql, location)  # parse-tree locations count bytes, the scanner's characters
        i = next(k for k, t in enumerate(tokens) if t.start == start)
        return i + (3 if schema else 1)

    def text(start: int, end: int) -> str:  # tokens [start, end)
        return sql[tokens[start].start:tokens[end - 1].end + 1]

    if "intoClause" in node:  # SELECT … INTO TEMP t FROM …: the statement without its INTO clause
        rel = node["intoClause"]["rel"]
        end = after_relation(rel["location"], bool(rel.get("schemaname")))
        start = max(k for k in range(end) if names[k] == "INTO")
        query = sql[:tokens[start].start] + sql[tokens[end - 1].end + 1:]
        return Load(query, rel["relname"], True, (), True, False)
    if stmt.node_type == "CreateTableAsStmt":
        into = node["into"]
        rel = into["rel"]
        i = after_relation(rel["location"], bool(rel.get("schemaname")))
        if names[i] == "ASCII_40":  # (a, b)
            i = _closing(names, i) + 1
        while names[i] != "AS":  # USING / WITH (options) / ON COMMIT … / TABLESPACE
            i = _closing(names, i) + 1 if names[i] == "ASCII_40" else i + 1
        end = len(tokens)
        if names[-2:] == ["WITH", "DATA_P"]:
            end -= 2
        elif names[-3:] == ["WITH", "NO", "DATA_P"]:
            end -= 3
        cols = tuple(c["String"]["sval"] for c in into.get("colNames", ()))
        return Load(text(i + 1, end), rel["relname"], True, cols, not into.get("skipData"),
                    bool(node.get("if_not_exists")))
    if stmt.node_type == "InsertStmt":
        if node.get("returningClause") or node.get("returningList") or node.get("onConflictClause") \
                or node.get("withClause"):
            raise PgError(E.FEATURE_NOT_SUPPORTED,
                          "INSERT … SELECT from a semantic table takes no WITH, ON CONFLICT or RETURNING")
        rel = node["relation"]
        i = after_relation(rel["location"], bool(rel.get("schemaname")))
        if "alias" in rel:
            i += 2 if names[i] == "AS" else 1
        if node.get("cols"):
            i = _closing(names, i) + 1
        cols = tuple(c["ResTarget"]["name"] for c in node.get("cols", ()))
        return Load(text(i, len(tokens)), rel["relname"], False, cols, True, False)
    raise PgError(E.FEATURE_NOT_SUPPORTED, f"{stmt.tag} cannot read semantic tables")


def _closing(names: list[str], i: int) -> int:
    """Index of the parenthesis closing the one at i."""
    depth = 0
    for k in range(i, len(names)):
        depth += {"ASCII_40": 1, "ASCII_41": -1}.get(names[k], 0)
        if depth == 0:
            return k
    raise PgError(E.SYNTAX_ERROR, "unbalanced parentheses")


__all__ = ["Load", "LoadPlan", "load_of", "plan_load"]
