"""Result column names as PostgreSQL gives them (parse_target.c's FigureColname), from PostgreSQL's own parser.

sqlglot normalises function names (substr → SUBSTRING, string_agg → GROUP_CONCAT, position → STR_POSITION),
so a name derived from its tree can differ from what PostgreSQL would announce; pglast keeps the spelling.
"""

from __future__ import annotations

from typing import Any

import pglast
from pglast import ast, enums


def single_statement(sql: str) -> Any:
    """PostgreSQL's parse tree of the one statement in `sql`; None for a syntax error or several statements."""
    try:
        stmts = pglast.parse_sql(sql)
    except pglast.parser.ParseError:
        return None
    return stmts[0].stmt if len(stmts) == 1 else None


def target_names(sql: str) -> list[str | None] | None:
    """Output names of the leftmost SELECT's target list (None for `*` items), or None when not a SELECT."""
    node: Any = single_statement(sql)
    if isinstance(node, ast.CreateTableAsStmt):
        node = node.query
    while isinstance(node, ast.SelectStmt) and node.larg is not None:
        node = node.larg
    if not isinstance(node, ast.SelectStmt) or not node.targetList:
        return None
    out: list[str | None] = []
    for t in node.targetList:
        if not isinstance(t, ast.ResTarget):
            return None
        if t.name:
            out.append(t.name)
        elif isinstance(t.val, ast.ColumnRef) and t.val.fields and isinstance(t.val.fields[-1], ast.A_Star):
            out.append(None)
        else:
            out.append(_figure(t.val)[0])
    return out


def _last_name(names: Any) -> str | None:
    last = names[-1] if names else None
    return last.sval if isinstance(last, ast.String) else None


def _figure(node: Any) -> tuple[str, int]:
    """(name, strength): 2 for a column or function name, 1 for a type name or "case", 0 for ?column?."""
    if isinstance(node, ast.ColumnRef):
        name = _last_name(node.fields)
        return (name, 2) if name is not None else ("?column?", 0)
    if isinstance(node, ast.A_Indirection):
        last = node.indirection[-1] if node.indirection else None
        if isinstance(last, ast.String) and last.sval is not None:
            return last.sval, 2
        return _figure(node.arg)
    if isinstance(node, ast.FuncCall):
        name = _last_name(node.funcname)
        return (name, 2) if name is not None else ("?column?", 0)
    if isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_NULLIF:
        return "nullif", 2
    if isinstance(node, ast.TypeCast):
        name, strength = _figure(node.arg)
        if strength <= 1 and node.typeName is not None:
            tname = _last_name(node.typeName.names)
            if tname is not None:
                return tname, 1
        return name, strength
    if isinstance(node, ast.CollateClause):
        return _figure(node.arg)
    if isinstance(node, ast.GroupingFunc):
        return "grouping", 2
    if isinstance(node, ast.SubLink):
        kind = node.subLinkType
        if kind == enums.SubLinkType.EXISTS_SUBLINK:
            return "exists", 2
        if kind == enums.SubLinkType.ARRAY_SUBLINK:
            return "array", 2
        if kind in (enums.SubLinkType.EXPR_SUBLINK, enums.SubLinkType.MULTIEXPR_SUBLINK):
            inner: Any = node.subselect
            while isinstance(inner, ast.SelectStmt) and inner.larg is not None:
                inner = inner.larg
            if isinstance(inner, ast.SelectStmt) and inner.targetList:
                first = inner.targetList[0]
                return (first.name or _figure(first.val)[0]), 2
        return "?column?", 0
    if isinstance(node, ast.CaseExpr):
        name, strength = _figure(node.defresult) if node.defresult is not None else ("?column?", 0)
        return (name, strength) if strength > 1 else ("case", 1)
    if isinstance(node, ast.A_ArrayExpr):
        return "array", 2
    if isinstance(node, ast.RowExpr):
        return "row", 2
    if isinstance(node, ast.CoalesceExpr):
        return "coalesce", 2
    if isinstance(node, ast.MinMaxExpr):
        return ("greatest" if node.op == enums.MinMaxOp.IS_GREATEST else "least"), 2
    if isinstance(node, ast.SQLValueFunction):
        op = enums.SQLValueFunctionOp(int(node.op or 0))
        return op.name.removeprefix("SVFOP_").removesuffix("_N").lower(), 2
    return "?column?", 0


__all__ = ["target_names"]
