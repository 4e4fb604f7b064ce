"""The SELECT that describes an INSERT/UPDATE/DELETE … RETURNING without running the write.

A prepared statement's RowDescription must be known before Execute, and asking DuckDB to describe the DML itself
would perform it. RETURNING's items evaluate over the written table (and DELETE's USING / UPDATE's FROM
relations), so `SELECT <items> FROM <those relations>` has the same output names and types; it is built from
PostgreSQL's own parse tree so names (FigureColname) and spellings stay PostgreSQL's.
"""

from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.stream import RawStream

from virtual_schema.catalog.colnames import single_statement


def returning_select(sql: str) -> str | None:
    """`SELECT <RETURNING items> FROM <target>[, <USING / FROM items>]`, or None without a RETURNING clause."""
    node: Any = single_statement(sql)
    if not isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
        return None
    clause = node.returningClause
    if clause is None or not clause.exprs:
        return None
    sources: list[Any] = [node.relation]
    if isinstance(node, ast.DeleteStmt):
        sources += list(node.usingClause or ())
    elif isinstance(node, ast.UpdateStmt):
        sources += list(node.fromClause or ())
    select = ast.SelectStmt(targetList=clause.exprs, fromClause=tuple(sources), withClause=node.withClause)
    return str(RawStream()(select))


__all__ = ["returning_select"]
