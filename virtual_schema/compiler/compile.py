"""The statement-level compiler: find semantic SELECTs anywhere in a statement, rewrite them, render.

Every SELECT whose FROM is exactly one virtual table is rewritten into warehouse SQL (bind → plan →
to_sql); a virtual table that is joined with something else is first replaced by
`(SELECT <the columns the query uses> FROM vt) AS alias`, itself a semantic SELECT, so joins, subqueries,
CTEs and UNIONs around semantic queries stay ordinary SQL and the whole statement goes to the warehouse as
one statement. Result types come from sqlglot's type annotator over the rewritten tree (whose leaves carry
physical types and explicit aggregate casts); top-level columns whose type is not exactly known are cast to
it so RowDescription always matches the data.

Parameters: `$n` stays `$n` for DuckDB. For Databricks they become positional `?` markers (the connector's
native positional parameters, as gateway/backends/databricks.py passes a list) and
`CompiledQuery.param_order` lists, for each marker in order, the 0-based index of the client parameter.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from virtual_schema.compiler import types as ty
from virtual_schema.compiler.api import CompiledQuery
from virtual_schema.compiler.bind import (
    SEM,
    Analysis,
    TableColumn,
    TableInfo,
    _figure_name,
    ambiguous,
    analyse,
    parse,
    position,
)
from virtual_schema.compiler.dialect import target_dialect
from virtual_schema.compiler.metrics import reaggregation
from virtual_schema.compiler.pgarith import (
    divide_integers,
    float_text,
    integer_division,
    numeric_literals,
    pg_typeof,
)
from virtual_schema.compiler.semijoin import UNIQUE_KEYS, filtering_join
from virtual_schema.compiler.shape import Shape, ShapeTemplate, render_template, tag
from virtual_schema.compiler.to_sql import Planner
from virtual_schema.errors import FEATURE_NOT_SUPPORTED, UNDEFINED_TABLE, PgError
from virtual_schema.pgextract import is_unconstrained, rewrite_extracts, unconstrained
from virtual_schema.pgtypes import TYPES_BY_OID, PgColumnType
from virtual_schema.schema import ColumnKind, ResultColumn, VirtualSchema

_COMPARISONS = (
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Like,
    exp.ILike,
    exp.In,
    exp.Between,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
)


class Compiler:
    def __init__(self, schema: VirtualSchema, tables: dict[str, TableInfo], planner: Planner, dialect: str) -> None:
        self.schema = schema
        self.tables = tables
        self.planner = planner
        self.dialect = dialect
        self._lower_tables = {n.lower(): n for n in tables}

    def compile(self, sql: str, param_types: tuple[int, ...]) -> CompiledQuery:
        return self.compile_shape(sql, param_types, None)[0]

    def compile_shape(
        self, sql: str, param_types: tuple[int, ...], shape: Shape | None
    ) -> tuple[CompiledQuery, ShapeTemplate | None]:
        """Compile one statement; with its `shape` (shape.lift) also the template every statement of that shape
        can fill with its own literals (None when the shape cannot have one)."""
        tree = parse(sql)
        if shape is not None and not tag(tree, shape):
            shape = None
        numeric_literals(tree)
        empty = _is_empty(tree)
        has_params = "$" in sql
        hints = self._param_hints(tree) if has_params else {}
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        result_types: dict[str, exp.DataType] = {}
        selects = [s for s in tree.find_all(exp.Select)]
        selects.reverse()  # innermost first
        original = tree.copy() if empty else None
        try:
            for sel in selects:
                replaced = self._rewrite_select(sel, ctes, result_types)
                if replaced is not None and sel is tree:
                    tree = replaced
        except PgError as e:
            # `SELECT * FROM metrics LIMIT 0` (what BI tools send to learn a table's shape) has an answer even
            # when the grain it names could not be computed: the empty result with the columns' types.
            if original is None or e.sqlstate != FEATURE_NOT_SUPPORTED:
                raise
            fallback = self._empty_shape(original, ctes)
            if fallback is None:
                raise
            return fallback, None
        if "(" in sql:
            _wrapper_extracts(tree)
        if "/" in sql:
            _wrapper_integer_division(tree)
        if "pg_typeof" in sql.lower():
            _wrapper_pg_typeof(tree)
        tree = self._unify_set_operation(tree)
        columns, params = self._types(tree, param_types, result_types, hints, has_params)
        order = self._param_order(tree) if has_params else ()
        if shape is not None:
            try:
                template = render_template(
                    tree, shape, CompiledQuery("", columns, params, empty, order), self.dialect, self._prepare
                )
            except Exception as e:
                raise PgError(FEATURE_NOT_SUPPORTED, f"cannot render for {self.dialect}: {e}") from None
            if template is not None:
                return template.query, template
        return CompiledQuery(self._render(tree), columns, params, empty, order), None

    def _empty_shape(self, tree: exp.Expression, ctes: set[str]) -> CompiledQuery | None:
        if not isinstance(tree, exp.Select) or tree.args.get("joins"):
            return None
        from_ = tree.args.get("from_")
        t = from_.this if from_ is not None else None
        info = self._virtual(t, ctes) if isinstance(t, exp.Table) else None
        if info is None:
            return None
        assert isinstance(t, exp.Table)
        analysis = analyse(tree, info, t.alias_or_name)
        sem: dict[str, exp.DataType] = {}
        for i, g in enumerate(analysis.grain):
            sem[f"__g{i}"] = _annotate_one(g, info.types, None)
        for ph, node in analysis.base_aggs:
            sem[ph] = _annotate_one(node, info.types, None)
        for ph, name in analysis.metrics:
            sem[ph] = info.types[name]
        shape = exp.Select()
        cols: list[ResultColumn] = []
        for idx, item in enumerate(analysis.outer.expressions):
            body = item.this if isinstance(item, exp.Alias) else item
            typ = _annotate_one(body, sem, SEM)
            name = item.alias_or_name
            shape = shape.select(exp.alias_(exp.Cast(this=exp.Null(), to=typ), name, quoted=True), copy=False)
            cols.append(ResultColumn(name, ty.pg_type(typ), *self._source(analysis.outer, idx)))
        shape = shape.where(exp.false(), copy=False)
        return CompiledQuery(self._render(shape), tuple(cols), (), True)

    # -- rewriting -------------------------------------------------------------------------------------
    def _virtual(self, t: exp.Table, ctes: set[str]) -> TableInfo | None:
        if t.db and t.db != "public":  # any catalog: "<database>"."public"."<table>" is this database
            return None
        if not t.db and t.name in ctes:
            return None
        got = self.tables.get(t.name)
        if got is None and not t.this.quoted:
            name = self._lower_tables.get(t.name.lower())
            got = self.tables.get(name) if name else None
        return got

    def _rewrite_select(self, sel: exp.Select, ctes: set[str], types: dict[str, exp.DataType]) -> exp.Select | None:
        from_ = sel.args.get("from_")
        joins = sel.args.get("joins") or []
        sources = ([from_.this] if from_ is not None else []) + [j.this for j in joins]
        tables = [t for t in sources if isinstance(t, exp.Table)]
        for t in tables:
            unknown = self._virtual(t, ctes) is None and not (t.name in ctes and not t.db)
            if unknown and isinstance(t.this, exp.Identifier):
                raise PgError(
                    UNDEFINED_TABLE,
                    f'relation "{t.sql(dialect="postgres")}" does not exist',
                    position=position(t.this),
                )
        virtual = [(t, self._virtual(t, ctes)) for t in tables]
        virtual = [(t, v) for t, v in virtual if v is not None]
        if not virtual:
            return None
        if len(sources) == 1 and not joins:
            t, info = virtual[0]
            assert info is not None
            return self._semantic(sel, info, t.alias_or_name, types)
        if len(virtual) == 1:
            t, info = virtual[0]
            assert info is not None
            if filtering_join(sel, t, info):  # joined only with derived tables that filter it
                return self._semantic(sel, info, t.alias_or_name, types)
        # Joined virtual tables: each becomes a semantic subquery of the columns used through it.
        _no_measure_over_join(sel)
        self._no_reaggregation_over_join(sel, virtual)
        for t, info in virtual:
            assert info is not None
            alias = t.alias_or_name
            used: list[str] = []
            star = any(isinstance(e, exp.Star) for e in sel.expressions)
            for col in sel.find_all(exp.Column):
                if isinstance(col.this, exp.Star) and col.table == alias:
                    star = True
                    continue
                if col.name not in info.columns or col.name in used:
                    continue
                if col.table == alias:
                    used.append(col.name)
                elif not col.table:
                    others = [o for o, oi in virtual if o is not t and oi is not None and col.name in oi.columns]
                    if others:
                        raise ambiguous(col.name, position(col))
                    used.append(col.name)
            if star:
                used = list(info.columns)
            if not used:
                used = [next(iter(info.columns))]
            inner = exp.select(*[exp.column(c) for c in used]).from_(ty.table(info.name))
            inner = self._semantic(inner, info, info.name, types)
            t.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias))))
        return None

    def _no_reaggregation_over_join(self, sel: exp.Select, virtual: list[tuple[exp.Table, TableInfo | None]]) -> None:
        """A metric read through a join is computed per row of the columns used through its table, so an aggregate
        over it in the joining query aggregates those values again. That is the metric at the coarser grain only
        for a sum of sums or counts, a min of mins, a max of maxes (metrics.reaggregation); an average of
        averages or a count of distinct counts would be a wrong number, so it is refused instead."""
        for col in sel.find_all(exp.Column):
            agg = col.find_ancestor(exp.AggFunc)  # the aggregate applied to the metric's values (not one above it)
            if agg is None or agg.find_ancestor(exp.Select) is not sel:
                continue
            found = _metric_column(col, virtual)
            if found is None:
                continue
            arg = agg.this.unnest() if isinstance(agg.this, exp.Expression) else None
            want = reaggregation(self.planner.models, found.key)
            if want is not None and agg.key == want and arg is col:
                continue
            reason = (f"only {want.upper()}({col.name}) adds up" if want is not None else
                      "its values do not add up across rows (an average, a distinct count, a ratio…)")
            raise PgError(
                FEATURE_NOT_SUPPORTED,
                f'{agg.sql(dialect="postgres")} over a join aggregates metric "{col.name}" again after it was '
                f"computed per row of the columns used through its table: {reason}",
                hint="Select the metric from its own table at the grain you need (a join that only filters "
                     "its rows, such as a top-k subquery, keeps the metric exact).",
                position=position(col),
            )

    def _semantic(self, sel: exp.Select, info: TableInfo, alias: str, types: dict[str, exp.DataType]) -> exp.Select:
        rewrite_extracts(sel, lambda e: _annotate_one(e, info.types, None).this is exp.DataType.Type.DATE)
        integer_division(sel, info.types)
        float_text(sel, lambda e: _annotate_one(e, info.types, None))
        pg_typeof(sel, lambda e: _annotate_one(e, info.types, None), keep_argument=True)
        star = info.model is None and sel.is_star
        analysis = analyse(sel, info, alias)
        keys = _grain_outputs(analysis)
        # Types at the virtual level: grain expressions over the table's columns, placeholders by what they are.
        vt = info.types
        sem: dict[str, exp.DataType] = {}
        for i, g in enumerate(analysis.grain):
            sem[f"__g{i}"] = _annotate_one(g, vt, None)
        for ph, node in analysis.base_aggs:
            sem[ph] = _annotate_one(node, vt, None)
        for ph, name in analysis.metrics:
            sem[ph] = vt[name]
        item_types = [
            _annotate_one(i.this if isinstance(i, exp.Alias) else i, sem, SEM) for i in analysis.outer.expressions
        ]
        try:
            outer, inner_types = self.planner.plan(analysis)
        except PgError as e:
            if not star or e.sqlstate != FEATURE_NOT_SUPPORTED:
                raise
            raise PgError(  # (its shape, LIMIT 0, is still answered: compile_shape's empty fallback)
                FEATURE_NOT_SUPPORTED,
                f'SELECT * from "{info.name}" splits every metric by every dimension of every model, and not every '
                f"metric can be split by every dimension: {e.message}",
                hint=f"Select the metrics you need and the dimensions to split them by, e.g. SELECT "
                     f"metric_time__month, <metric> FROM {info.name}.",
            ) from e
        for item, t in zip(outer.expressions, item_types, strict=True):
            body = item.this if isinstance(item, exp.Alias) else item
            if not (isinstance(body, exp.Cast) and body.to == t):
                item.set("this", exp.Cast(this=body, to=t))
        types.update(inner_types)
        outer.meta[_SEMANTIC_OUTPUT] = True
        if keys is not None:
            outer.meta[UNIQUE_KEYS] = keys
        if sel.args.get("with_") is not None:
            outer.set("with_", sel.args["with_"])
        if sel.parent is not None:
            sel.replace(outer)
        return outer

    # -- types ---------------------------------------------------------------------------------------------
    def _param_hints(self, tree: exp.Expression) -> dict[int, PgColumnType]:
        """Types of `$n` compared with a virtual column (read before rewriting, while names are ours)."""
        out: dict[int, PgColumnType] = {}
        for p in tree.find_all(exp.Parameter, bfs=False):
            parent = p.parent
            while isinstance(parent, (exp.Paren, exp.Tuple)):
                parent = parent.parent
            if not isinstance(parent, _COMPARISONS):
                continue
            for other in parent.iter_expressions():
                if isinstance(other, exp.Column):
                    for info in self.tables.values():
                        col = info.columns.get(other.name)
                        if col is not None:
                            out.setdefault(_param_no(p), ty.pg_type(col.type))
                            break
        return out

    def _types(
        self,
        tree: exp.Expression,
        param_types: tuple[int, ...],
        known: dict[str, exp.DataType],
        hints: dict[int, PgColumnType],
        has_params: bool,
    ) -> tuple[tuple[ResultColumn, ...], tuple[PgColumnType, ...]]:
        first = tree
        while isinstance(first, exp.SetOperation):
            first = first.this
        cols: list[ResultColumn] = []
        if isinstance(first, exp.Select):
            _expand_stars(first)
            if all(isinstance(i, exp.Alias) and isinstance(i.this, exp.Cast) for i in first.expressions):
                found = [i.this.to for i in first.expressions]  # a semantic SELECT: every column is cast
            else:
                found = self._annotate_wrapper(tree)
            for idx, item in enumerate(first.expressions):
                t = found[idx] if idx < len(found) else None
                body = item.this if isinstance(item, exp.Alias) else item
                cast_to: exp.DataType | None
                if t is None or not ty.known(t):
                    t = cast_to = ty.TEXT
                else:  # the warehouse's round/ceil keep the argument's type and scale: cast to PostgreSQL's result
                    cast_to = t if isinstance(body.unnest(), _ROUNDING) else None
                if cast_to is not None:
                    item.replace(exp.alias_(exp.Cast(this=body.copy(), to=cast_to.copy()), _figure_name(item),
                                            quoted=True))
                    item = first.expressions[idx]
                table_oid, attnum = self._source(first, idx)
                cols.append(ResultColumn(_figure_name(item), ty.pg_type(t), table_oid, attnum))
        found = [_param_no(p) for p in tree.find_all(exp.Parameter)] if has_params else []
        n_params = max(found, default=0)
        params: list[PgColumnType] = []
        for i in range(max(n_params, len(param_types))):
            given = param_types[i] if i < len(param_types) else 0
            if given and given in TYPES_BY_OID:
                params.append(PgColumnType(given))
                continue
            params.append(hints.get(i + 1) or self._infer_param(tree, i + 1))
        return tuple(cols), tuple(params)

    def _branch_types(self, sel: exp.Select) -> list[exp.DataType | None]:
        if all(isinstance(i, exp.Alias) and isinstance(i.this, exp.Cast) for i in sel.expressions):
            return [i.this.to for i in sel.expressions]
        return self._annotate_wrapper(sel)

    def _unify_set_operation(self, tree: exp.Expression) -> exp.Expression:
        """UNION branches whose column types differ get one type per column, as PostgreSQL resolves them
        (int + numeric → numeric, any float → float8, date + timestamp → timestamp, else text); the union is
        wrapped in a SELECT that casts to it, so the warehouse returns what RowDescription says."""
        if not isinstance(tree, exp.SetOperation):
            return tree
        branches: list[exp.Select] = []
        stack: list[exp.Expression] = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, exp.SetOperation):
                stack.extend([node.expression, node.this])
            elif isinstance(node, exp.Select):
                branches.append(node)
            elif isinstance(node, exp.Subquery) and isinstance(node.this, (exp.Select, exp.SetOperation)):
                stack.append(node.this)  # a parenthesised branch: (SELECT …)
            else:
                return tree
        first = branches[0]
        per_branch = [self._branch_types(b) for b in branches]
        n = len(first.expressions)
        unified = [_unify([bt[i] if i < len(bt) else None for bt in per_branch]) for i in range(n)]
        head = per_branch[0]
        if len(head) == n and all(_same(head[i], unified[i]) for i in range(n)):
            return tree
        names = [_figure_name(i) for i in first.expressions]
        sources = first.meta.get("sources") if first.meta else None
        for b in branches:  # unique, quoted output names so the wrapper can address them
            for i, item in enumerate(list(b.expressions)):
                body = item.this if isinstance(item, exp.Alias) else item
                item.replace(exp.alias_(body.copy(), f"__u{i}", quoted=True))
        out = exp.Select()
        for i, name in enumerate(names):
            out = out.select(
                exp.alias_(exp.Cast(this=exp.column(f"__u{i}", quoted=True), to=unified[i]), name, quoted=True),
                copy=False,
            )
        out = out.from_(exp.Subquery(this=tree, alias=exp.TableAlias(this=exp.to_identifier("__union"))), copy=False)
        if sources:
            out.meta["sources"] = sources
        return out

    def _source(self, sel: exp.Select, idx: int) -> tuple[int, int]:
        src = sel.meta.get("sources") if sel.meta else None
        if not src or idx >= len(src[1]) or src[1][idx] is None:
            return 0, 0
        vt = self.schema.table(src[0])
        if vt is None:
            return 0, 0
        for n, c in enumerate(vt.columns, start=1):
            if c.name == src[1][idx]:
                return vt.oid, n
        return 0, 0

    def _annotate_wrapper(self, tree: exp.Expression) -> list[exp.DataType | None]:
        """Types of the top-level columns of ordinary SQL around semantic subqueries (whose columns are cast)."""
        try:
            q = qualify(
                _light_copy(tree), dialect="duckdb", validate_qualify_columns=False, quote_identifiers=False,
                identify=False,
            )
            a = annotate_types(q, dialect="duckdb")
        except Exception:
            return []
        while isinstance(a, exp.SetOperation):
            a = a.this
        if not isinstance(a, exp.Select):
            return []
        for item in a.expressions:
            _pg_date_arithmetic(item)
        return [i.type for i in a.expressions]

    def _infer_param(self, tree: exp.Expression, n: int) -> PgColumnType:
        for p in tree.find_all(exp.Parameter, bfs=False):
            if _param_no(p) != n:
                continue
            parent = p.parent
            if isinstance(parent, exp.Cast):
                return ty.pg_type(parent.to)
            while isinstance(parent, (exp.Paren, exp.Tuple)):
                parent = parent.parent
            if isinstance(parent, _COMPARISONS):
                for other in parent.iter_expressions():
                    if not isinstance(other, exp.Parameter) and ty.known(other.type):
                        return ty.pg_type(other.type)
            if isinstance(parent, (exp.Limit, exp.Offset)):
                return PgColumnType(20)
        return PgColumnType(25)

    # -- rendering -----------------------------------------------------------------------------------------
    def _prepare(self, tree: exp.Expression) -> exp.Expression:
        """A private copy of the tree as the dialect receives it (positional `?` markers where it has no `$n`):
        the generator may change nodes while rendering, and the tree can hold nodes shared with the models."""
        out = tree.copy()
        if self.dialect != "duckdb":
            for p in list(out.find_all(exp.Parameter, bfs=False)):
                p.replace(exp.Placeholder())
        return out

    def _render(self, tree: exp.Expression) -> str:
        out = self._prepare(tree)
        try:
            return out.sql(dialect=target_dialect(self.dialect), unsupported_level=ErrorLevel.RAISE, copy=False)
        except Exception as e:
            raise PgError(FEATURE_NOT_SUPPORTED, f"cannot render for {self.dialect}: {e}") from None

    def _param_order(self, tree: exp.Expression) -> tuple[int, ...]:
        if self.dialect == "duckdb":
            return ()
        return tuple(_param_no(p) - 1 for p in tree.find_all(exp.Parameter, bfs=False))


def _no_measure_over_join(sel: exp.Select) -> None:
    """MEASURE(m) of a virtual table joined with something other than a filter (semijoin.py) has no answer: the
    table becomes a semantic subquery at the grain of the columns used, and MEASURE is no warehouse function."""
    for node in sel.find_all(exp.Anonymous):
        if node.name.lower() == "measure" and node.find_ancestor(exp.Select) is sel:
            raise PgError(
                FEATURE_NOT_SUPPORTED,
                "MEASURE() over a joined virtual table is supported only when the join filters its rows: an inner "
                "join on equal keys with a derived table that has one row per key and whose columns are read "
                "nowhere else",
            )


def _metric_column(col: exp.Column, virtual: list[tuple[exp.Table, TableInfo | None]]) -> TableColumn | None:
    """The metric or measure a column reads from one of the joined virtual tables, if it is one."""
    for t, info in virtual:
        if info is None or (col.table and col.table != t.alias_or_name):
            continue
        got = info.lookup(col.name, bool(col.this.quoted)) if isinstance(col.this, exp.Identifier) else None
        if got is not None and got.kind in (ColumnKind.METRIC, ColumnKind.MEASURE):
            return got
    return None


def _grain_outputs(a: Analysis) -> list[set[str]] | None:
    """Per grain key, the output columns that are that key itself; None unless every key is output. A semantic
    query has one row per grain, so its result is then unique on those columns (semijoin.py relies on it)."""
    per_key: dict[str, set[str]] = {}
    for item in a.outer.expressions:
        body = item.this if isinstance(item, exp.Alias) else item
        if isinstance(body, exp.Column) and body.table == SEM and body.name.startswith("__g"):
            per_key.setdefault(body.name, set()).add(item.alias_or_name)
    return list(per_key.values()) if len(per_key) == len(a.grain) else None


def _same(a: exp.DataType | None, b: exp.DataType) -> bool:
    """Equal types, announced alike (DataType equality ignores whether a DECIMAL is announced with its typmod)."""
    return a == b and is_unconstrained(a) == is_unconstrained(b) and ty.is_numeric_double(a) == ty.is_numeric_double(b)


def _unify(types: list[exp.DataType | None]) -> exp.DataType:
    known_types = [t for t in types if t is not None and ty.known(t)]
    if not known_types:
        return ty.TEXT
    numeric = ty.common_numeric(types)  # numeric(p,s) only when every branch (no NULL) has that typmod
    if numeric is not None:
        return numeric
    first = known_types[0]
    if all(t == first for t in known_types):
        return first
    kinds = {t.this for t in known_types}
    if kinds <= ty.INTEGER_TYPES:
        return ty.BIGINT
    if kinds & ty.FLOAT_TYPES and kinds <= ty.INTEGER_TYPES | ty.FLOAT_TYPES | {exp.DataType.Type.DECIMAL}:
        return ty.DOUBLE
    if all(ty.is_temporal(t) for t in known_types):
        return ty.TIMESTAMP
    return ty.TEXT


def _annotate_one(e: exp.Expression, schema: dict[str, exp.DataType], table: str | None) -> exp.DataType:
    """The type of one expression whose columns belong to one table with known column types."""
    if isinstance(e, exp.Column) and e.name in schema and (table is None or e.table == table):
        return schema[e.name]
    if isinstance(e, exp.Cast):
        return e.to
    if isinstance(e, (exp.Count,)):
        return ty.BIGINT
    if isinstance(e, exp.Literal):
        if e.is_string:
            return ty.TEXT
        return ty.literal_type(e) or ty.DOUBLE
    if isinstance(e, exp.Boolean):
        return ty.BOOLEAN
    if isinstance(e, (exp.Min, exp.Max)) and isinstance(e.this, exp.Column) and e.this.name in schema:
        return schema[e.this.name]
    expr = e.copy()
    used: dict[str, exp.DataType] = {}
    for c in expr.find_all(exp.Column):
        if (table is None or c.table == table) and c.name in schema:
            c.set("table", exp.to_identifier("v"))
            used[c.name] = schema[c.name]
    q = exp.select(exp.alias_(expr, "x")).from_(exp.alias_(ty.table("v"), "v", table=True))
    try:
        top = annotate_types(q, schema={"v": used} if used else None, dialect="duckdb").selects[0]
        _pg_date_arithmetic(top)
        t = top.type
    except Exception:
        t = None
    if (t is None or not ty.known(t)) and isinstance(e, (exp.TimestampTrunc, exp.DateTrunc)):
        return ty.TIMESTAMP
    return t if t is not None and ty.known(t) else ty.TEXT


_ROUNDING = (exp.Round, exp.Trunc, exp.Floor, exp.Ceil)  # typed by ty.rounded
_SEMANTIC_OUTPUT = "semantic_output"  # meta flag of a rewritten semantic SELECT (every column cast to its type)


def _light_copy(tree: exp.Expression) -> exp.Expression:
    """A copy of `tree` for qualify/annotate: each semantic SELECT below the root stands in as
    `SELECT CAST(NULL AS t) AS name, …`. Its columns are all it shows the SQL around it, and the optimizer then
    never walks (or copies) the plan underneath, which is most of a BI tool's wrapped statement."""
    swaps: list[tuple[exp.Expression, exp.Expression]] = []
    for node in list(tree.find_all(exp.Select)):
        if node is tree or not (node._meta and node._meta.get(_SEMANTIC_OUTPUT)):
            continue
        if not all(isinstance(i, exp.Alias) and isinstance(i.this, exp.Cast) for i in node.expressions):
            continue
        parent, inside = node.parent, False
        while parent is not None and not inside:
            inside = any(parent is done for _, done in swaps)
            parent = parent.parent
        if inside:
            continue
        stub = exp.Select(expressions=[
            exp.Alias(this=exp.Cast(this=exp.Null(), to=i.this.to.copy()), alias=i.args["alias"].copy())
            for i in node.expressions
        ])
        node.replace(stub)
        swaps.append((stub, node))
    try:
        return tree.copy()
    finally:
        for standin, original in reversed(swaps):
            standin.replace(original)


def _wrapper_extracts(tree: exp.Expression) -> None:
    """EXTRACT in ordinary SQL around semantic subqueries (theirs are rewritten already): numeric as PostgreSQL's;
    an argument is known to be a date only when cast to one."""
    if not any(True for _ in tree.find_all(exp.Extract)):
        return
    rewrite_extracts(tree, lambda e: isinstance(e, exp.Cast) and e.to.this is exp.DataType.Type.DATE)


def _wrapper_pg_typeof(tree: exp.Expression) -> None:
    """pg_typeof() in ordinary SQL around semantic subqueries (theirs are resolved already): its argument's type
    as annotate_types sees it there, the semantic subqueries' columns being cast to what they announce."""
    nodes = [n for n in tree.find_all(exp.Anonymous) if n.name.lower() == "pg_typeof"]
    if not nodes:
        return
    try:
        q = qualify(_light_copy(tree), dialect="duckdb", validate_qualify_columns=False, quote_identifiers=False,
                    identify=False)
        typed = [n for n in annotate_types(q, dialect="duckdb").find_all(exp.Anonymous)
                 if n.name.lower() == "pg_typeof"]
    except Exception:
        return
    if len(typed) != len(nodes):
        return
    arg_types = {id(n): t.expressions[0].type if len(t.expressions) == 1 else None
                 for n, t in zip(nodes, typed, strict=True)}
    pg_typeof(tree, lambda e: arg_types.get(id(e.parent)) if e.parent is not None else None)


def _wrapper_integer_division(tree: exp.Expression) -> None:
    """`/` in ordinary SQL around semantic subqueries, divided as PostgreSQL would (pgarith): a column is known
    by name from the semantic subqueries' output casts, unless two of them disagree on its type or a
    wrapper SELECT defines a column of that name itself (then only casts and literals say it is an integer)."""
    semantic = [s for s in tree.find_all(exp.Select) if s._meta and s._meta.get(_SEMANTIC_OUTPUT)]
    if not semantic:
        return
    types: dict[str, exp.DataType] = {}
    clash: set[str] = set()
    for s in semantic:
        for item in s.expressions:
            if isinstance(item, exp.Alias) and isinstance(item.this, exp.Cast):
                name, t = item.alias, item.this.to
                if types.setdefault(name, t) != t:
                    clash.add(name)
    inside = {id(n) for s in semantic for n in s.walk()}
    for s in tree.find_all(exp.Select):
        if id(s) not in inside:
            clash.update(i.alias_or_name for i in s.expressions)
    for name in clash:
        types.pop(name, None)
    divs = [d for d in tree.find_all(exp.Div) if id(d) not in inside]
    if divs:
        divide_integers(divs, types)


def _expand_stars(sel: exp.Select) -> None:
    """`*` / `t.*` over derived tables: spelled out, so each column is announced (the warehouse answers them all)."""
    if not sel.is_star:
        return
    try:
        q = qualify(_light_copy(sel), dialect="duckdb", validate_qualify_columns=False, quote_identifiers=True,
                    identify=True)
    except Exception:
        return
    if not isinstance(q, exp.Select) or q.is_star:
        return
    sel.set("expressions", [e.copy() for e in q.expressions])


def _pg_aggregate(node: exp.Sum | exp.Avg) -> exp.DataType | None:
    """sum() and avg() typed as PostgreSQL types them (sqlglot gives sum the argument's type): sum of int2/int4 is
    bigint, of int8 or numeric plain numeric (an aggregate has no typmod); avg of an integer or numeric is numeric.
    None: leave sqlglot's type."""
    T = exp.DataType.Type
    arg = node.this.expressions[0] if isinstance(node.this, exp.Distinct) and node.this.expressions else node.this
    t = arg.type if isinstance(arg, exp.Expression) else None
    if t is None:
        return None
    if ty.is_numeric_double(t):
        return ty.numeric_double()
    if isinstance(node, exp.Sum) and t.this in (T.SMALLINT, T.INT, T.TINYINT):
        return ty.BIGINT
    if isinstance(node, exp.Sum) and t.this in (T.BIGINT, T.INT128, T.UBIGINT):
        return unconstrained(38, 0)
    if isinstance(node, exp.Sum) and t.this is T.DECIMAL:
        return ty.plain_numeric(ty.sum_type(t))
    if isinstance(node, exp.Avg) and (t.this in ty.INTEGER_TYPES or t.this is T.DECIMAL):
        return ty.numeric_double()
    return None


def _pg_date_arithmetic(root: exp.Expr) -> None:
    """Retype `root` bottom-up as PostgreSQL types it where sqlglot differs: date - date is an integer, date ±
    interval a timestamp, a decimal constant numeric (ty.literal_type), arithmetic with a numeric operand numeric,
    sum/avg and round/trunc/ceil/floor PostgreSQL's result types (ty.rounded), CASE / COALESCE PostgreSQL's common
    type; aggregates and operators announce no typmod. The retyping flows up through parentheses, min/max and
    arithmetic."""
    T = exp.DataType.Type
    for node in reversed(list(root.walk(bfs=True))):
        if isinstance(node, (exp.Paren, exp.Nullif)) or (isinstance(node, exp.Alias) and node is root):
            node.type = node.this.type
            continue
        if isinstance(node, (exp.Min, exp.Max, exp.AnyValue, exp.Neg)):  # an aggregate or operator: no typmod
            node.type = ty.plain_numeric(node.this.type) if node.this.type is not None else None
            continue
        if isinstance(node, (exp.Sum, exp.Avg)):
            node.type = _pg_aggregate(node) or node.type
            continue
        if isinstance(node, exp.Literal):  # a decimal constant is numeric (sqlglot says DOUBLE)
            node.type = ty.literal_type(node) or node.type
            continue
        if isinstance(node, _BRANCHES):  # CASE / COALESCE over numerics: PostgreSQL's common type and typmod
            node.type = ty.common_numeric(_branch_values(node)) or node.type
            continue
        if isinstance(node, _ROUNDING):  # numeric, float and integer arguments: typed by ty.rounded
            node.type = ty.rounded(node, node.this.type) or node.type
            continue
        if not isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv)):
            continue
        lk, rk = (side.type.this if side.type is not None else None for side in (node.left, node.right))
        numbers = ty.INTEGER_TYPES | ty.FLOAT_TYPES | {T.DECIMAL}
        if isinstance(node, exp.IntDiv):  # only pgarith.integer_division makes one: integer operands
            node.type = ty.BIGINT if T.BIGINT in (lk, rk) else exp.DataType.build("SMALLINT" if lk is rk is T.SMALLINT
                                                                                  else "INT")
        elif isinstance(node, exp.Mul) and T.INTERVAL in (lk, rk):
            node.type = exp.DataType.build("INTERVAL")
        elif node.left.type is not None and node.right.type is not None and _numeric_operands(
                node.left.type, node.right.type):
            node.type = ty.numeric_arith(node, node.left.type, node.right.type)
        elif isinstance(node, (exp.Div, exp.Mul, exp.Mod)):
            if lk in numbers and rk in numbers and node.type is not None and node.type.this not in numbers:
                node.type = ty.DOUBLE
            elif isinstance(node, exp.Div) and node.type is not None and node.type.this in ty.INTEGER_TYPES:
                node.type = ty.DOUBLE  # `/` left after pgarith.integer_division is never integer division
        elif isinstance(node, exp.Sub) and lk is T.DATE and rk is T.DATE:
            node.type = exp.DataType.build("INT")
        elif T.INTERVAL in (lk, rk) and {T.DATE, T.TIMESTAMP, T.TIMESTAMPNTZ} & {lk, rk}:
            node.type = ty.TIMESTAMP
        elif lk in ty.INTEGER_TYPES and rk in ty.INTEGER_TYPES and (
                node.type is None or node.type.this not in ty.INTEGER_TYPES):
            node.type = ty.BIGINT if T.BIGINT in (lk, rk) else exp.DataType.build("INT")


_BRANCHES = (exp.Case, exp.If, exp.Coalesce, exp.Greatest, exp.Least)


def _branch_values(node: exp.Expression) -> list[exp.DataType | None]:
    """The types of the values a CASE / COALESCE / GREATEST / LEAST may yield."""
    if isinstance(node, exp.Case):  # no ELSE: NULL
        parts = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
    elif isinstance(node, exp.If):
        parts = [node.args.get("true"), node.args.get("false")]
    else:  # PostgreSQL folds a NULL argument away
        parts = [p for p in (node.this, *node.expressions) if not isinstance(p, exp.Null)]
    return [p.type if isinstance(p, exp.Expression) else None for p in parts]


def _numeric_operands(left: exp.DataType, right: exp.DataType) -> bool:
    """Numeric (decimal) arithmetic in PostgreSQL: a numeric operand and no float8 one (EXTRACT(...) - 1)."""
    if not (left.this is exp.DataType.Type.DECIMAL or right.this is exp.DataType.Type.DECIMAL
            or ty.is_numeric_double(left) or ty.is_numeric_double(right)):
        return False
    numbers = ty.INTEGER_TYPES | {exp.DataType.Type.DECIMAL}
    return all(t.this in numbers or ty.is_numeric_double(t) for t in (left, right))


def _param_no(p: exp.Parameter) -> int:
    lit = p.this
    try:
        return int(lit.this) if isinstance(lit, exp.Literal) else int(str(lit))
    except ValueError:
        return 0


def _is_empty(tree: exp.Expression) -> bool:
    if not isinstance(tree, exp.Select):
        return False
    limit = tree.args.get("limit")
    if limit is not None and isinstance(limit.expression, exp.Literal) and limit.expression.this == "0":
        return True
    where = tree.args.get("where")
    inner = where.this if where is not None else None
    while isinstance(inner, exp.Paren):
        inner = inner.this
    if isinstance(inner, exp.Boolean) and not inner.this:
        return True
    if isinstance(inner, exp.EQ) and all(
        isinstance(x, exp.Literal) and not x.is_string for x in (inner.this, inner.expression)
    ):
        return bool(inner.this.this != inner.expression.this)
    return False


__all__ = ["Compiler"]
