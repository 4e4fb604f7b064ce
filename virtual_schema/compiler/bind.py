"""Bind: read one PostgreSQL statement, refuse what we do not run, and analyse semantic SELECTs.

pglast (PostgreSQL's own parser) decides syntax errors (42601 with position) and the statement kind
(writes and DDL → 25006); sqlglot then gives the AST we rewrite. For a SELECT over one virtual table,
`analyse` finds the metric references (any of SUM/MIN/MAX/AVG/COUNT/MEASURE around a metric column, or the
bare column), other aggregates over base rows (COUNT(*), COUNT(DISTINCT dim), MAX(dim)), and the grain:
GROUP BY expressions when given (positions and output aliases resolved), else the non-aggregate select
expressions. Each metric/aggregate becomes a `__sem.__mN` placeholder and each grain expression a
`__sem.__gN` placeholder; any dimension left outside a grain expression is PostgreSQL's 42803.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import cast

import pglast
import sqlglot
from sqlglot import exp

from virtual_schema.compiler import types as ty
from virtual_schema.compiler.dialect import CHAR_CUT, BiPostgres, normalize
from virtual_schema.errors import (
    AMBIGUOUS_COLUMN,
    FEATURE_NOT_SUPPORTED,
    GROUPING_ERROR,
    READ_ONLY_SQL_TRANSACTION,
    SYNTAX_ERROR,
    UNDEFINED_COLUMN,
    UNDEFINED_TABLE,
    PgError,
)
from virtual_schema.schema import ColumnKind

SEM = "__sem"
_WRITE_PREFIXES = (
    "Insert",
    "Update",
    "Delete",
    "Merge",
    "Create",
    "Drop",
    "Alter",
    "Truncate",
    "Grant",
    "Revoke",
    "Comment",
    "Copy",
    "Refresh",
    "Reindex",
    "Cluster",
    "Vacuum",
    "Rename",
    "Lock",
    "Import",
)


def parse(sql: str) -> exp.Expression:
    try:
        # The JSON form: building pglast's Python node objects costs ~10x more, and only the kind is needed.
        stmts = json.loads(pglast.parser.parse_sql_json(sql)).get("stmts") or []
    except pglast.parser.ParseError as e:
        pos = e.args[1] + 1 if len(e.args) > 1 and isinstance(e.args[1], int) else None
        raise PgError(SYNTAX_ERROR, str(e.args[0]), position=pos) from None
    if len(stmts) != 1:
        raise PgError(FEATURE_NOT_SUPPORTED, "exactly one statement is compiled at a time")
    kind, node = next(iter(stmts[0]["stmt"].items()))
    if kind.startswith(_WRITE_PREFIXES) or (kind == "SelectStmt" and node.get("intoClause") is not None):
        verb = kind.removesuffix("Stmt").upper()
        raise PgError(READ_ONLY_SQL_TRANSACTION, f"cannot execute {verb} in a read-only transaction")
    if kind != "SelectStmt":
        raise PgError(FEATURE_NOT_SUPPORTED, f"{kind.removesuffix('Stmt')} is not supported on semantic tables")
    if node.get("lockingClause"):
        raise PgError(FEATURE_NOT_SUPPORTED, "SELECT … FOR UPDATE/SHARE is not supported on semantic tables")
    try:
        tree = normalize(cast(exp.Expression, sqlglot.parse_one(sql, read=BiPostgres)))
    except sqlglot.errors.SqlglotError as e:
        raise PgError(FEATURE_NOT_SUPPORTED, f"statement not supported by the semantic compiler: {e}") from None
    return tree


def position(node: exp.Expr) -> int | None:
    """PostgreSQL's 1-based error position of a node: a column reference's is where it starts (`o.nope` at `o`)."""
    ident = (node.parts[0] if node.parts else node.this) if isinstance(node, exp.Column) else node
    meta = getattr(ident, "meta", None) or {}
    start = meta.get("start")
    return start + 1 if isinstance(start, int) else None


@dataclass(frozen=True, slots=True)
class TableColumn:
    name: str  # what clients write (a model's `sql_name` when it has one)
    kind: ColumnKind
    type: exp.DataType
    internal: str = ""  # the model's own name (scopes, metrics); defaults to `name`

    @property
    def key(self) -> str:
        return self.internal or self.name


@dataclass
class TableInfo:
    """A virtual table as the binder sees it. Lookups are exact first; an unquoted identifier then matches
    case-insensitively when that is unambiguous (BI tools write Cube-style camelCase without quotes)."""

    name: str
    model: str | None  # None for the `metrics` table
    columns: dict[str, TableColumn]
    types: dict[str, exp.DataType] = field(default_factory=dict)  # by internal name
    by_internal: dict[str, TableColumn] = field(default_factory=dict)
    lower: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_internal = {c.key: c for c in self.columns.values()}
        self.types = {c.key: c.type for c in self.columns.values()}
        counts: dict[str, int] = {}
        for n in self.columns:
            counts[n.lower()] = counts.get(n.lower(), 0) + 1
        self.lower = {n.lower(): n for n in self.columns if counts[n.lower()] == 1}

    def lookup(self, name: str, quoted: bool) -> TableColumn | None:
        got = self.columns.get(name)
        if got is None and not quoted:
            exact = self.lower.get(name.lower())
            got = self.columns.get(exact) if exact else None
        return got


@dataclass
class Analysis:
    """A semantic SELECT with placeholders; `outer` is the SELECT over `__sem`."""

    table: TableInfo
    outer: exp.Select
    grain: list[exp.Expression]  # over virtual column names (unqualified)
    metrics: list[tuple[str, str]]  # (placeholder, metric name)
    base_aggs: list[tuple[str, exp.Expression]]  # (placeholder, aggregate over virtual columns)
    where: exp.Expression | None
    referenced: set[str] = field(default_factory=set)  # virtual columns used in grain/where/base aggs


_METRIC_AGGS = (exp.Sum, exp.Min, exp.Max, exp.Avg, exp.Count)


def _is_measure_call(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() == "measure"


def _figure_name(e: exp.Expression) -> str:
    """PostgreSQL's FigureColname for an unaliased select item."""
    if isinstance(e, exp.Alias):
        ident = e.args.get("alias")
        return e.alias if ident is None or ident.quoted else e.alias.lower()
    if isinstance(e, exp.Column):
        if isinstance(e.this, exp.Star):
            return "?column?"
        return e.name if e.this.quoted else e.name.lower()
    if isinstance(e, exp.Cast):
        src = e.this
        if isinstance(src, exp.Left) and src.meta.get(CHAR_CUT) and isinstance(src.this, exp.Cast):
            src = src.this.this  # varchar(n) cut: named after x, as PostgreSQL names x::varchar(n)
        inner = _figure_name(src)
        return inner if inner != "?column?" else e.to.sql("postgres").lower().split("(")[0]
    if isinstance(e, exp.Case):
        return "case"
    if isinstance(e, exp.Paren):
        return _figure_name(e.this)
    if isinstance(e, exp.Boolean):
        return "bool"
    if isinstance(e, exp.Extract):
        return "extract"
    if isinstance(e, exp.Anonymous):
        return e.name.lower()
    if isinstance(e, exp.Func) and not isinstance(e, exp.Binary):
        names = {
            exp.DateTrunc: "date_trunc",
            exp.TimestampTrunc: "date_trunc",
            exp.Coalesce: "coalesce",
            exp.Count: "count",
            exp.Sum: "sum",
            exp.Avg: "avg",
            exp.Min: "min",
            exp.Max: "max",
        }
        for cls, n in names.items():
            if isinstance(e, cls):
                return n
        return e.sql_name().lower()
    return "?column?"


class Binder:
    def __init__(self, table: TableInfo, alias: str) -> None:
        self.table = table
        self.alias = alias
        self.metrics: list[tuple[str, str]] = []
        self.base_aggs: list[tuple[str, exp.Expression]] = []
        self._metric_ph: dict[str, str] = {}
        self._agg_ph: dict[str, str] = {}

    def column(self, col: exp.Column) -> TableColumn:
        if (
            col.table
            and col.table not in (self.alias, self.table.name)
            and (col.table.lower() not in (self.alias.lower(), self.table.name.lower()))
        ):
            raise PgError(UNDEFINED_TABLE, f'missing FROM-clause entry for table "{col.table}"', position=position(col))
        got = self.table.lookup(col.name, bool(col.this.quoted))
        if got is None:
            raise PgError(UNDEFINED_COLUMN, f'column "{col.name}" does not exist', position=position(col))
        return got

    def _metric(self, name: str) -> exp.Column:
        ph = self._metric_ph.get(name)
        if ph is None:
            ph = f"__m{len(self.metrics) + len(self.base_aggs)}"
            self._metric_ph[name] = ph
            self.metrics.append((ph, name))
        return exp.column(ph, table=SEM)

    def _base_agg(self, node: exp.Expression) -> exp.Column:
        key = node.sql()
        ph = self._agg_ph.get(key)
        if ph is None:
            ph = f"__m{len(self.metrics) + len(self.base_aggs)}"
            self._agg_ph[key] = ph
            self.base_aggs.append((ph, node))
        return exp.column(ph, table=SEM)

    def normalise(self, node: exp.Expression) -> exp.Expression:
        """Unqualify our columns (so structurally equal expressions compare equal) and check they exist."""
        if isinstance(node, exp.Column) and node.table != SEM:
            if isinstance(node.this, exp.Star):
                return node
            c = self.column(node)
            out = exp.column(c.key)
            out.this.meta.update(node.this.meta)
            return out
        if isinstance(node, (exp.Subquery, exp.Select)) and node is not None:
            return node
        if self._no_op_cast(node):
            return self.normalise(node.this)
        for child in list(node.iter_expressions()):
            new = self.normalise(child)
            if new is not child:
                child.replace(new)
        return node

    def _no_op_cast(self, node: exp.Expression) -> bool:
        """A cast of one of our columns to exactly its own type, which PostgreSQL's parser drops: Sigma selects
        DATE_TRUNC('day', CAST(ts AS TIMESTAMP)) and groups by DATE_TRUNC('day', ts) (or the other way round),
        and PostgreSQL takes the two for the same expression. A typmod (timestamp(3)) or another spelling of a
        compatible type (varchar for text) is a real coercion to PostgreSQL, and stays."""
        if type(node) is not exp.Cast or node.args.get("format") or not isinstance(node.this, exp.Column):
            return False
        col, to = node.this, node.to
        if col.table == SEM or isinstance(col.this, exp.Star) or to.expressions \
                or to.this is exp.DataType.Type.USERDEFINED:
            return False
        return ty.pg_type_written(to).oid == ty.pg_type(self.column(col).type).oid

    def _is_metric_col(self, node: exp.Expression) -> str | None:
        if isinstance(node, exp.Column) and node.table != SEM and not isinstance(node.this, exp.Star):
            c = self.table.by_internal.get(node.name)
            if c is not None and c.kind in (ColumnKind.METRIC, ColumnKind.MEASURE):
                return c.key
        return None

    def _contains_metric(self, node: exp.Expression) -> bool:
        return any(self._is_metric_col(c) for c in node.find_all(exp.Column))

    def placeholders(self, node: exp.Expression) -> exp.Expression:
        """Replace metric references and base-row aggregates by `__sem.__mN` columns."""
        if isinstance(node, (exp.Subquery, exp.Select)):
            return node
        name = self._is_metric_col(node)
        if name:
            return self._metric(name)
        if (isinstance(node, _METRIC_AGGS) or _is_measure_call(node)) and not isinstance(node.parent, exp.Window):
            arg = node.expressions[0] if _is_measure_call(node) and node.expressions else node.this
            if isinstance(arg, exp.Distinct) and len(arg.expressions) == 1:
                arg = arg.expressions[0]
            arg = arg.unnest() if arg is not None else None  # Power BI writes count(distinct("rows"."m"))
            metric = self._is_metric_col(arg) if arg is not None else None
            if metric:
                return self._metric(metric)
            if isinstance(node, exp.Count) and isinstance(node.this, exp.Star):
                return self._base_agg(node.copy())
            if _is_measure_call(node):
                raise PgError(FEATURE_NOT_SUPPORTED, "MEASURE() takes a metric column")
            only_metrics = arg is not None and all(
                c.table == SEM or self._is_metric_col(c) for c in arg.find_all(exp.Column)
            )
            if only_metrics and arg is not None and self._contains_metric(arg) \
                    and isinstance(node, (exp.Sum, exp.Min, exp.Max, exp.Avg)):
                # One row per grain: SUM/MIN/MAX/AVG of an expression of metrics is that expression (Power BI
                # sends SUM(CAST(metric AS decimal)) and MAX(CASE WHEN metric IS NULL THEN 1 ELSE 0 END)).
                return self.placeholders(arg.copy())
            if self._contains_metric(node):
                raise _metric_expression_aggregate(node, only_metrics)
            return self._base_agg(node.copy())
        for child in list(node.iter_expressions()):
            new = self.placeholders(child)
            if new is not child:
                child.replace(new)
        return node


def _metric_expression_aggregate(node: exp.Expression, only_metrics: bool) -> PgError:
    """Why an aggregate over an expression with metrics has no answer: a metric is one value per result row,
    so SUM/MIN/MAX/AVG of an expression of metrics is the expression, but COUNT is not: COUNT(metric) means the
    metric itself (as Cube reads it), which no reading of COUNT(expression) can agree with; and a dimension
    varies per base row, which a metric does not have."""
    if only_metrics:
        return PgError(
            FEATURE_NOT_SUPPORTED,
            f"{node.key.upper()} over an expression of metrics is not supported: COUNT(metric) is the metric "
            "itself, so COUNT(expression) has no consistent meaning; count the metric column itself or compute "
            "on the result",
        )
    return PgError(
        FEATURE_NOT_SUPPORTED,
        "aggregates over expressions that mix metrics with dimensions are not supported: a metric has one value "
        "per result row, a dimension one per base row; aggregate the metric column itself (SUM(metric)) and "
        "compute on the result",
    )


def _walk_columns(node: exp.Expression) -> list[exp.Column]:
    """Columns of this scope (not inside nested SELECTs)."""
    return [n for n in _own_scope(node) if isinstance(n, exp.Column)]


def _own_scope(node: exp.Expression) -> list[exp.Expression]:
    """The nodes of this scope: nested SELECTs (an `IN (subquery)` in WHERE) are queries of their own."""
    out: list[exp.Expression] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (exp.Subquery, exp.Select)) and n is not node:
            continue
        out.append(n)
        if not isinstance(n, exp.Column):
            stack.extend(n.iter_expressions())
    return out


def _replace_grain(node: exp.Expression, grain: list[exp.Expression]) -> exp.Expression:
    for i, g in enumerate(grain):
        if node == g:
            return exp.column(f"__g{i}", table=SEM)
    if isinstance(node, (exp.Subquery, exp.Select)):
        return node
    for child in list(node.iter_expressions()):
        new = _replace_grain(child, grain)
        if new is not child:
            child.replace(new)
    return node


def _no_metrics_in_where(b: Binder, where: exp.Expression) -> None:
    for c in _walk_columns(where):
        if b._is_metric_col(c):
            raise PgError(
                GROUPING_ERROR, f'metric "{c.name}" is not allowed in WHERE (use HAVING)', position=position(c)
            )
    for agg in (n for n in _own_scope(where) if isinstance(n, exp.AggFunc)):
        raise PgError(GROUPING_ERROR, "aggregate functions are not allowed in WHERE", position=position(agg))


def _output_name(b: Binder, e: exp.Expression, aliases: dict[str, exp.Expression]) -> bool:
    """An unqualified name that is a select item's output name and no column of the table."""
    return isinstance(e, exp.Column) and not e.table and e.name in aliases \
        and b.table.lookup(e.name, bool(e.this.quoted)) is None


def _group_key(b: Binder, g: exp.Expression, named: list[tuple[str, exp.Expression]],
               aliases: dict[str, exp.Expression]) -> exp.Expression | None:
    """A GROUP BY item resolved as PostgreSQL does: a position in the select list, an output name, else an
    expression over the table (a copy, normalised). None: a position outside the select list."""
    if isinstance(g, exp.Literal) and not g.is_string:
        idx = int(g.this) - 1
        return named[idx][1].copy() if 0 <= idx < len(named) else None
    if _output_name(b, g, aliases):
        return aliases[g.name].copy()
    return b.normalise(g.copy())


def _grouped_metrics(b: Binder, select: exp.Select, named: list[tuple[str, exp.Expression]]) -> set[str]:
    """Metric columns the statement lists in GROUP BY itself (plainly, by position or by output name)."""
    group = select.args.get("group")
    out: set[str] = set()
    if group is None:
        return out
    aliases = dict(named)
    for g in group.expressions:
        ge = _group_key(b, g, named, aliases)
        key = b._is_metric_col(ge) if ge is not None else None
        if key is not None:
            out.add(key)
    return out


def _split_grouped_metric_filters(
    b: Binder, where: exp.Expression, grouped: set[str]
) -> tuple[exp.Expression | None, exp.Expression | None]:
    """(base-row filter, result-row filter): WHERE conjuncts over metrics that the statement also groups by.

    QuickSight and other tools that take a measure for a dimension send `WHERE <test of m> … GROUP BY m`.
    Grouping by a metric does not split its value (it is computed at the grain of the other keys, as Cube does),
    so such a test reads the metric's value in each result row: it is a HAVING condition. A conjunct that mixes
    a metric with a dimension, or names a metric not in GROUP BY, stays in WHERE and is refused there (42803)."""
    if not grouped:
        return where, None
    conjuncts = [c for c in where.flatten() if isinstance(c, exp.Expression)] if isinstance(where, exp.And) \
        else [where]
    keep: list[exp.Expression] = []
    moved: list[exp.Expression] = []
    for c in conjuncts:
        cols = _walk_columns(c)
        on_result = bool(cols) and all(b._is_metric_col(col) in grouped for col in cols) and \
            c.find(exp.AggFunc) is None
        (moved if on_result else keep).append(c)
    if not moved:
        return where, None
    rest = cast(exp.Expression, exp.and_(*keep, copy=False)) if keep else None
    return rest, cast(exp.Expression, exp.and_(*moved, copy=False))


def analyse(select: exp.Select, table: TableInfo, alias: str) -> Analysis:
    """Takes `select` apart: its expressions move into the analysis (the caller replaces the SELECT)."""
    b = Binder(table, alias)
    items: list[exp.Expression] = []
    for item in select.expressions:
        if item.is_star:
            if isinstance(item, exp.Column) and item.table.lower() not in (alias.lower(), table.name.lower()):
                raise PgError(UNDEFINED_TABLE, f'missing FROM-clause entry for table "{item.table}"')
            items.extend(exp.column(c, quoted=True) for c in table.columns)
        else:
            items.append(item)
    named: list[tuple[str, exp.Expression]] = []
    for item in items:
        name = _figure_name(item)
        body = item.this if isinstance(item, exp.Alias) else item
        named.append((name, b.normalise(body)))
    where = select.args.get("where")
    where_e = b.normalise(where.this) if where is not None else None
    having = select.args.get("having")
    having_e = b.normalise(having.this) if having is not None else None
    if where_e is not None:
        where_e, on_result = _split_grouped_metric_filters(b, where_e, _grouped_metrics(b, select, named))
        if on_result is not None:
            both = exp.and_(having_e, on_result, copy=False) if having_e is not None else on_result
            having_e = cast(exp.Expression, both)
    if where_e is not None:
        _no_metrics_in_where(b, where_e)
    order = select.args.get("order")
    # Grain: GROUP BY (positions and aliases resolved) or the non-aggregate select items.
    aliases = {n: e for n, e in named}
    order_e = None
    if order is not None:
        order_e = order
        for o in order_e.expressions:
            if not _output_name(b, o.this, aliases):  # ORDER BY an output column name stays as it is
                o.set("this", b.normalise(o.this))
    group = select.args.get("group")
    grain: list[exp.Expression] = []
    if group is not None:
        for g in group.expressions:
            ge = _group_key(b, g, named, aliases)
            if ge is None:
                raise PgError(GROUPING_ERROR, f"GROUP BY position {g.this} is not in select list")
            if b._contains_metric(ge):
                # A metric is computed at the grain of the other keys; BI tools (Holistics, QuickSight) list
                # measure columns in GROUP BY, and Cube ignores them there too.
                continue
            grain.append(ge)
    # Placeholders for metrics/aggregates everywhere.
    out_items = [(n, b.placeholders(e)) for n, e in named]
    having_p = b.placeholders(having_e) if having_e is not None else None
    order_p = b.placeholders(order_e) if order_e is not None else None
    if group is None:
        for _, e in out_items:
            cols = [c for c in _walk_columns(e) if c.table != SEM]
            if not cols:
                continue
            if any(c.table == SEM for c in _walk_columns(e)):
                grain.extend(exp.column(c.name) for c in cols)
            else:
                grain.append(e.copy())
    uniq: list[exp.Expression] = []
    for g in grain:
        if g not in uniq:
            uniq.append(g)
    grain = uniq
    referenced = {c.name for g in grain for c in _walk_columns(g)}
    if where_e is not None:
        referenced |= {c.name for c in _walk_columns(where_e)}
    for _, agg in b.base_aggs:
        referenced |= {c.name for c in _walk_columns(agg) if c.table != SEM}

    outer = exp.Select()
    for n, e in out_items:
        r = _replace_grain(e, grain)
        _check_grouped(r)
        outer = outer.select(exp.alias_(r, n, quoted=True, copy=False), copy=False)
    outer.set("from_", exp.From(this=ty.table(SEM)))
    if having_p is not None:
        hr = _replace_grain(having_p, grain)
        _check_grouped(hr)
        outer.set("where", exp.Where(this=hr))
    if order_p is not None:
        orr = _replace_grain(order_p, grain)
        for o in orr.expressions:
            inner = o.this
            if isinstance(inner, exp.Column) and not inner.table and inner.name in aliases:
                continue  # ORDER BY an output column name
            _check_grouped(inner)
        outer.set("order", orr)
    for key in ("limit", "offset", "distinct"):
        if select.args.get(key) is not None:
            outer.set(key, select.args[key].copy())
    # Which output columns are plain columns of the virtual table (RowDescription's table OID / attnum).
    sources = [table.by_internal[e.name].name if isinstance(e, exp.Column) else None for _, e in named]
    outer.meta["sources"] = (table.name, sources)
    return Analysis(table, outer, grain, b.metrics, b.base_aggs, where_e, referenced)


def _check_grouped(e: exp.Expression) -> None:
    for c in _walk_columns(e):
        if c.table != SEM and not isinstance(c.this, exp.Star):
            raise PgError(
                GROUPING_ERROR,
                f'column "{c.name}" must appear in the GROUP BY clause or be used in an aggregate function',
                position=position(c),
            )


def ambiguous(name: str, pos: int | None) -> PgError:
    return PgError(AMBIGUOUS_COLUMN, f'column reference "{name}" is ambiguous', position=pos)
