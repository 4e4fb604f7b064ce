"""Expected answers for the corpus's semantic statements, by plain SQL on the same DuckDB data.

A deliberately dumb rewrite (sqlglot AST, no planner): in every SELECT that reads a model table, the table
becomes the model's physical relation, a dimension column becomes its SQL expression, and a measure column
becomes its aggregate — `SUM/MIN/MAX/AVG/COUNT/COUNT(DISTINCT)/MEASURE(m)` around a measure is the measure
itself at the query's grain (Cube's semantics, which the corpus was recorded against). Dimensions alone give
one row per distinct combination. A bare measure makes
the SELECT aggregate: GROUP BY keeps only the non-aggregate items (added if absent). `COUNT(*)` counts base
rows. The rewritten SQL runs in DuckDB; the gateway's answer must equal it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types


class NoOracle(Exception):
    """The statement uses something this rewrite cannot express (the comparison is then not made)."""


@dataclass(frozen=True)
class TableDef:
    relation: str  # physical relation in DuckDB
    dimensions: dict[str, str] = field(default_factory=dict)  # column -> SQL expr over the relation
    measures: dict[str, str] = field(default_factory=dict)  # column -> aggregate SQL over the relation
    order: tuple[str, ...] = ()  # column order of the virtual table (for SELECT *)


_AGGS = (exp.Sum, exp.Min, exp.Max, exp.Avg, exp.Count)
_REDSHIFTISMS = re.compile(r"\b(dateadd|datediff|charindex|getdate|convert_timezone)\s*\(", re.I)


def _from(select: exp.Select) -> exp.From | None:
    return select.args.get("from") or select.args.get("from_")  # type: ignore[no-any-return]


def _own(node: exp.Expression, select: exp.Select) -> bool:
    """node belongs to select's own scope (not to a nested subquery)."""
    return node.find_ancestor(exp.Select) is select


def _parse_expr(sql: str, alias: str) -> exp.Expression:
    e = sqlglot.parse_one(sql, read="duckdb")
    for col in e.find_all(exp.Column):
        if not col.table:
            col.set("table", exp.to_identifier(alias, quoted=True))
    return e


def _is_agg(node: exp.Expression) -> bool:
    return isinstance(node, _AGGS) or (isinstance(node, exp.Anonymous) and node.name.upper() == "MEASURE")


def rewrite(sql: str, tables: dict[str, TableDef]) -> str:
    read = "redshift" if _REDSHIFTISMS.search(sql) else "postgres"
    # Metabase's fixed "now" is str_to_date(text, PostgreSQL format): to_timestamp in PostgreSQL terms
    sql = re.sub(r"\bstr_to_date\s*\(", "to_timestamp(", sql, flags=re.I)
    try:
        tree = sqlglot.parse_one(sql, read=read)
    except sqlglot.errors.ParseError as e:
        raise NoOracle(f"sqlglot cannot parse: {e}") from e
    for cast in list(tree.find_all(exp.Cast)):
        # PostgreSQL reads 'YYYYMMDD' text as a date (ThoughtSpot builds dates that way); DuckDB does not
        inner = cast.this
        if (cast.to.this in (exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP) and isinstance(inner, exp.Cast)
                and inner.to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT)
                and not isinstance(inner.this, exp.Literal)):
            cast.set("this", exp.func("STRFTIME", exp.func("STRPTIME", inner.copy(), exp.Literal.string("%Y%m%d")),
                                      exp.Literal.string("%Y-%m-%d")))
    lower = {k.lower(): v for k, v in tables.items()}
    exact = dict(tables)
    for select in list(tree.find_all(exp.Select)):
        _rewrite_select(select, exact, lower)
    # PostgreSQL's integer / integer truncates; DuckDB's "/" would divide as floats unless types are known
    try:
        tree = annotate_types(tree)
    except Exception as e:
        raise NoOracle(f"cannot type the plain SQL: {e}") from e
    _float_text_as_postgresql(tree)
    out = re.sub(r"EXTRACT\(QTR\b", "EXTRACT(QUARTER", tree.sql(dialect="duckdb"), flags=re.I)
    return re.sub(r"DATE_TRUNC\('qtr'", "DATE_TRUNC('quarter'", out, flags=re.I)


def _float_text_as_postgresql(tree: exp.Expression) -> None:
    """Floats turned into text (`||` operands, casts to text) print as PostgreSQL's float8 output does.

    PostgreSQL prints an integral float8 below 1e15 without a fraction: ThoughtSpot's quarter start
    `EXTRACT(YEAR …) || '-' || (FLOOR((EXTRACT(MONTH …) - 1) / 3) * 3 + 1) || '-01'` reads `2022-4-01` there,
    where DuckDB would print `4.0` (PostgreSQL's EXTRACT is numeric, and an integral numeric prints bare too).
    sqlglot types FLOOR of an integer as an integer, DuckDB returns a DOUBLE: integer-typed operands get the
    same treatment (a true integer prints the same either way); decimals print their scale in both engines."""
    floats = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, *exp.DataType.INTEGER_TYPES}
    operands: list[exp.Expression] = []
    for node in list(tree.find_all(exp.DPipe, exp.Cast)):
        if isinstance(node, exp.DPipe):
            operands += [node.this, node.expression]
        elif node.to.this in exp.DataType.TEXT_TYPES:
            operands.append(node.this)
    for x in reversed(operands):  # innermost first: an outer operand copies what is inside it
        if isinstance(x, exp.Literal) or x.type is None or x.type.this not in floats:
            continue
        integral = exp.and_(exp.EQ(this=x.copy(), expression=exp.func("TRUNC", x.copy())),
                            exp.LT(this=exp.Abs(this=x.copy()), expression=exp.Literal.number("1e15")))
        bare = exp.cast(exp.cast(x.copy(), "BIGINT"), "VARCHAR")
        x.replace(exp.Case(ifs=[exp.If(this=integral, true=bare)], default=exp.cast(x.copy(), "VARCHAR")))


def _model_of(table: exp.Table, exact: dict[str, TableDef], lower: dict[str, TableDef]) -> TableDef | None:
    ident = table.this
    if not isinstance(ident, exp.Identifier):
        return None
    if ident.quoted:
        return exact.get(ident.name)
    return lower.get(ident.name.lower())


def _rewrite_select(select: exp.Select, exact: dict[str, TableDef], lower: dict[str, TableDef]) -> None:
    sources: list[exp.Table] = []
    frm = _from(select)
    if frm is not None and isinstance(frm.this, exp.Table):
        sources.append(frm.this)
    joins = select.args.get("joins") or []
    for j in joins:
        if isinstance(j.this, exp.Table):
            sources.append(j.this)
    n_sources = (1 if frm is not None else 0) + len(joins)
    models = [(t, d) for t in sources if (d := _model_of(t, exact, lower)) is not None]
    if not models:
        return
    if len(models) > 1 and len(models) != n_sources:
        raise NoOracle("join of model tables with other relations")
    # a join of models on their __cubeJoinField entities is the join of their rows on those keys
    by_qualifier: dict[str, tuple[TableDef, str]] = {}
    stars: list[exp.Expression] = []
    for table, tdef in models:
        alias = table.alias_or_name
        for q in (table.name, table.name.lower(), alias):
            by_qualifier[q] = (tdef, alias)
        table.replace(exp.Table(this=exp.to_identifier(tdef.relation), alias=exp.TableAlias(
            this=exp.to_identifier(alias, quoted=True))))
        stars += [exp.column(c, table=alias, quoted=True).as_(c, quoted=True) for c in tdef.order]
    _grouped_measure_tests_to_having(select, by_qualifier, models)
    # SELECT * / t.* : every column of the virtual table
    new_exprs: list[exp.Expression] = []
    for e in select.expressions:
        if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
            if len(models) > 1:
                raise NoOracle("star over a join of models")
            new_exprs += stars
        else:
            new_exprs.append(e)
    # keep output names: a replaced column must still be called what the outer query reads
    new_exprs = [e.as_(e.name, quoted=True) if isinstance(e, exp.Column) and not isinstance(e.this, exp.Star)
                 else e for e in new_exprs]
    select.set("expressions", new_exprs)
    bare_measure = False
    for col in list(select.find_all(exp.Column)):
        if not _own(col, select) or isinstance(col.this, exp.Star):
            continue
        name = col.name
        if col.table:
            if col.table not in by_qualifier:
                continue
            tdef, alias = by_qualifier[col.table]
        else:
            if _output_alias_in_order_by(col, select):
                continue  # ORDER BY status names the output column "status" first, as in PostgreSQL
            owners = {a: d for d, a in by_qualifier.values() if name in d.dimensions or name in d.measures}
            if len(owners) > 1:
                raise NoOracle(f"ambiguous column {name}")
            alias, tdef = next(iter(owners.items())) if owners else (models[0][0].alias_or_name, models[0][1])
        if name in tdef.dimensions:
            dim = _parse_expr(tdef.dimensions[name], alias)
            col.replace(dim if isinstance(dim, exp.Column | exp.Func) else exp.Paren(this=dim))
        elif name in tdef.measures:
            agg = _parse_expr(tdef.measures[name], alias)
            parent = col.parent
            while isinstance(parent, exp.Paren):  # count(distinct("rows"."m"))
                parent = parent.parent
            if isinstance(parent, exp.Distinct) and isinstance(parent.parent, exp.Count):
                parent = parent.parent
            outer = _enclosing_agg(col, select)
            if parent is not None and _is_agg(parent):
                parent.replace(agg)
            elif outer is not None:
                # SUM(CAST(m AS ...)), SUM(m1 + m2), MAX(CASE WHEN m IS NULL ...): over one row per group the
                # aggregate of an expression of measures is that expression of the measures at the grain
                if isinstance(outer, exp.Count) or not _only_measures(outer.this, by_qualifier, models):
                    raise NoOracle(f"{outer.key} over an expression of measures")
                col.replace(agg)
                outer.replace(outer.this)
            else:
                col.replace(agg)
                bare_measure = True
        elif n_sources == 1 and not col.table:
            # an output alias used in GROUP BY / ORDER BY is fine; anything else is unknown to the oracle
            aliases = {e.alias_or_name for e in select.expressions}
            if name not in aliases:
                raise NoOracle(f"unknown column {name}")
        elif col.table:
            raise NoOracle(f"unknown column {name}")
    if bare_measure:
        _regroup(select)
    elif select.args.get("group") is None and not any(_has_agg(e) for e in select.expressions):
        # dimensions only: the grain is one row per distinct combination (a model is not its base rows)
        select.set("distinct", exp.Distinct())


def _measure_column(e: exp.Expression, by_qualifier: dict[str, tuple[TableDef, str]],
                    models: list[tuple[exp.Table, TableDef]]) -> bool:
    if not isinstance(e, exp.Column) or isinstance(e.this, exp.Star):
        return False
    tdef = by_qualifier[e.table][0] if e.table in by_qualifier else models[0][1] if not e.table else None
    return tdef is not None and e.name in tdef.measures


def _grouped_measure_tests_to_having(select: exp.Select, by_qualifier: dict[str, tuple[TableDef, str]],
                                     models: list[tuple[exp.Table, TableDef]]) -> None:
    """WHERE conjuncts that test only measures the SELECT also groups by become HAVING conditions.

    QuickSight sends `WHERE <test of m> … GROUP BY m` for a measure used as a dimension. Grouping by a measure
    does not split it (Cube computes it at the grain of the other keys), so the test reads the measure's value
    in each result row."""
    group, where = select.args.get("group"), select.args.get("where")
    if group is None or where is None:
        return
    items = select.expressions
    grouped: set[str] = set()
    for g in group.expressions:
        target = g
        if isinstance(g, exp.Literal) and g.is_int and 0 < int(g.name) <= len(items):
            target = items[int(g.name) - 1]
        elif isinstance(g, exp.Column) and not g.table:
            target = next((i for i in items if isinstance(i, exp.Alias) and i.alias == g.name), g)
        if isinstance(target, exp.Alias):
            target = target.this
        if _measure_column(target, by_qualifier, models):
            grouped.add(target.name)
    conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    moved = [c for c in conjuncts if (cols := list(c.find_all(exp.Column))) and c.find(exp.AggFunc) is None
             and all(_measure_column(col, by_qualifier, models) and col.name in grouped for col in cols)]
    if not moved:
        return
    kept = [c for c in conjuncts if all(c is not m for m in moved)]
    select.set("where", exp.Where(this=exp.and_(*kept)) if kept else None)
    having = select.args.get("having")
    select.set("having", exp.Having(this=exp.and_(*([having.this] if having else []), *moved)))


def _enclosing_agg(col: exp.Column, select: exp.Select) -> exp.Expression | None:
    """The aggregate of select's own scope whose argument holds col (None outside any aggregate)."""
    node = col.parent
    while node is not None and node is not select and not isinstance(node, exp.Select | exp.Subquery):
        if _is_agg(node):
            return node
        node = node.parent
    return None


def _only_measures(e: exp.Expression, by_qualifier: dict[str, tuple[TableDef, str]],
                   models: list[tuple[exp.Table, TableDef]]) -> bool:
    """Every model column of e is a measure (columns inside aggregates already substituted are not looked at)."""
    for c in e.find_all(exp.Column):
        up = c.parent
        while up is not None and up is not e and not _is_agg(up):
            up = up.parent
        if up is not None and up is not e:
            continue
        tdef = by_qualifier[c.table][0] if c.table in by_qualifier else models[0][1] if not c.table else None
        if tdef is not None and c.name not in tdef.measures:
            return False
    return True


def _output_alias_in_order_by(col: exp.Column, select: exp.Select) -> bool:
    if not (isinstance(col.parent, exp.Ordered) and isinstance(col.parent.parent, exp.Order)):
        return False
    return any(isinstance(e, exp.Alias) and e.alias == col.name for e in select.expressions)


def _has_agg(e: exp.Expression) -> bool:
    return any(_is_agg(n) for n in e.walk() if isinstance(n, exp.Expression))


def _regroup(select: exp.Select) -> None:
    items = select.expressions
    group = select.args.get("group")
    keep: list[exp.Expression] = []
    if group is not None:
        for g in group.expressions:
            target = g
            if isinstance(g, exp.Literal) and g.is_int:
                target = items[int(g.name) - 1]
            elif isinstance(g, exp.Column) and not g.table:
                target = next((i for i in items if i.alias_or_name == g.name and isinstance(i, exp.Alias)), g)
            if not _has_agg(target):
                keep.append(g)
    else:
        for i, e in enumerate(items, 1):
            inner = e.this if isinstance(e, exp.Alias) else e
            if not _has_agg(inner) and list(inner.find_all(exp.Column)):
                keep.append(exp.Literal.number(i))
    select.set("group", exp.Group(expressions=keep) if keep else None)


def normalize(value: Any) -> Any:
    """Make driver values comparable across engines (numbers to 6 significant digits, times to naive UTC)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | decimal.Decimal):
        f = float(value)
        if math.isnan(f):
            return "nan"
        return float(f"{f:.6g}")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def same_rows(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> bool:
    g = sorted((tuple(normalize(v) for v in r) for r in got), key=repr)
    w = sorted((tuple(normalize(v) for v in r) for r in want), key=repr)
    return g == w


_SUBSECOND = ("nanosecond", "microsecond")


def _agg_sql(agg: str, expr: str) -> str:
    if agg == "count_distinct":
        return f"count(DISTINCT {expr})"
    if agg == "sum_boolean":
        return f"sum(CAST({expr} AS INTEGER))"
    if agg in ("sum", "count", "avg", "min", "max", "median"):
        return f"{agg}({expr})"
    raise NoOracle(f"aggregation {agg}")


def table_defs(models: Any, schema: Any) -> dict[str, TableDef]:
    """TableDefs for each virtual table that is one model (columns matched to the model's fields by name)."""
    def exposed(f: Any) -> str:
        return str(getattr(f, "exposed", None) or f.name)

    by_lower = {exposed(m).lower(): m for m in models.models}
    out: dict[str, TableDef] = {}
    for table in schema.tables:
        model = by_lower.get(table.name.lower())
        if model is None:
            continue
        relation = model.relation.qualified(None, None)
        dims: dict[str, str] = {}
        measures: dict[str, str] = {}
        fields_by_lower: dict[str, tuple[str, Any]] = {}
        for e in model.entities:
            fields_by_lower[exposed(e).lower()] = ("entity", e)
        for d in model.dimensions:
            fields_by_lower[exposed(d).lower()] = ("dimension", d)
        for m in model.measures:
            fields_by_lower[exposed(m).lower()] = ("measure", m)
        for metric in models.metrics:
            if metric.type.value == "simple" and metric.measure and not (metric.filter or metric.measure_filter):
                owned = models.measure(metric.measure)
                if owned is not None and owned[0].name == model.name:
                    fields_by_lower.setdefault(exposed(metric).lower(), ("measure", owned[1]))
        for col in table.columns:
            hit = fields_by_lower.get(col.name.lower())
            if hit is None and "__" in col.name:
                base, grain = col.name.rsplit("__", 1)
                d = fields_by_lower.get(base.lower())
                if d and d[0] == "dimension":
                    dims[col.name] = f"date_trunc('{grain}', {d[1].sql})"
                continue
            if hit is None:
                continue
            kind, f = hit
            if kind == "entity":
                dims[col.name] = f.expr or f.name
            elif kind == "dimension":
                expr = f.sql
                if f.type.value == "time" and f.default_grain.value not in _SUBSECOND:
                    expr = f"date_trunc('{f.default_grain.value}', {expr})"
                dims[col.name] = expr
            else:
                measures[col.name] = _agg_sql(f.agg.value, f.expr or f.name)
        out[table.name] = TableDef(relation, dims, measures, tuple(c.name for c in table.columns))
    return out
