"""Plan → SQL: grouped per-model subqueries at the query's grain, joined on the grain, under the outer SELECT.

For an `Analysis` (see bind.py) every metric is expanded into leaves (metrics.py). Leaves are grouped by
(model, metric_time dimension when the query uses metric_time); each group becomes
`SELECT <grain exprs> AS __gN, <leaf aggregates> AS __aK FROM model LEFT JOIN dims … WHERE <user WHERE>
GROUP BY <grain>`, so measures aggregate on their own model's rows before anything else is joined. Several
groups are FULL OUTER JOINed on the grain keys (IS NOT DISTINCT FROM) with COALESCE'd keys. Cumulative
metrics get their own group over a generated daily date spine (no spine table in the warehouse): for each
spine day the measure over rows in (all time | trailing window | grain_to_date period) up to that day, then
at the query's time grain the period's last (default), first or average daily value (`period_agg`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from virtual_schema.compiler import types as ty
from virtual_schema.compiler.bind import SEM, Analysis
from virtual_schema.compiler.metrics import Leaf, MetricExpander, measure_agg
from virtual_schema.compiler.scope import BASE, ModelScope, ScopeBuilder, parse_snippet, parse_window, qualify
from virtual_schema.errors import FEATURE_NOT_SUPPORTED, UNDEFINED_COLUMN, PgError
from virtual_schema.spec import EntityType, Grain, PeriodAgg, SemanticModel


@dataclass
class Group:
    model: str
    time_dim: str | None
    cumulative: Leaf | None = None
    offset: str | None = None
    filters: tuple[str, ...] = ()  # metric/measure/input filters: a WHERE on this group's base rows
    aggs: list[tuple[str, exp.Expression, exp.DataType]] = field(default_factory=list)


class Planner:
    def __init__(self, builder: ScopeBuilder) -> None:
        self.builder = builder
        self.models = builder.models
        self.dialect = builder.dialect
        # Memos of pure functions of the (immutable) models: concurrent first computations store equal values.
        self._scopes: dict[tuple[str, str | None, str | None], ModelScope] = {}
        self._leaf_aggs: dict[tuple[str, str], tuple[exp.Expression, exp.DataType]] = {}

    # -- expression translation -------------------------------------------------------------------
    def translate(self, e: exp.Expression, scope: ModelScope, needed: set[str], what: str) -> exp.Expression:
        def sub(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and node.table != SEM and not isinstance(node.this, exp.Star) \
                    and node.find_ancestor(exp.Subquery, exp.Select) is None:  # a subquery's columns are its own
                col = scope.columns.get(node.name)
                if col is None:
                    raise PgError(
                        FEATURE_NOT_SUPPORTED if what == "query" else UNDEFINED_COLUMN,
                        f'column "{node.name}" is not reachable from model {scope.model.name} ({what})',
                        hint="dimensions join along entities that are primary or unique in the other model; "
                        "a join that could fan out is refused",
                    )
                needed.update(col.joins)
                out = col.expr.copy()
                # `is_large = true` with is_large := `amount > 100` must stay `(amount > 100) = true`
                return exp.Paren(this=out) if isinstance(out, (exp.Binary, exp.Unary, exp.Predicate)) else out
            return node

        return e.transform(sub)  # transform copies

    def _scope(self, g: Group) -> ModelScope:
        # Without metric_time in the query, metric filters may still name it: bind the model's default.
        td = g.time_dim or self.models.model_by_name[g.model].defaults.agg_time_dimension
        key = (g.model, td, g.offset)
        got = self._scopes.get(key)
        if got is None:
            got = self._scopes[key] = self.builder.scope(g.model).with_metric_time(td, g.offset)
        return got

    def _leaf_agg(self, leaf: Leaf, scope: ModelScope, needed: set[str]) -> tuple[exp.Expression, exp.DataType]:
        key = (leaf.model, leaf.measure)
        got = self._leaf_aggs.get(key)
        if got is None:
            model = self.models.model_by_name[leaf.model]
            measure = model.measure(leaf.measure)
            assert measure is not None
            arg = qualify(parse_snippet(measure.sql, self.dialect), BASE)
            arg_t = self.builder.expr_type(model, measure.sql)
            p = measure.agg_params
            got = self._leaf_aggs[key] = measure_agg(
                measure.agg, arg, arg_t, p.percentile if p else None, bool(p and p.use_discrete_percentile)
            )
        return got[0].copy(), got[1]

    # -- plan ---------------------------------------------------------------------------------------
    def plan(self, a: Analysis) -> tuple[exp.Select, dict[str, exp.DataType]]:
        uses_metric_time = any(n.startswith("metric_time") for n in a.referenced)
        groups: dict[tuple[str, str | None, Leaf | None, str | None, tuple[str, ...]], Group] = {}
        leaf_cols: dict[Leaf, str] = {}

        def leaf_column(leaf: Leaf) -> exp.Expression:
            name = leaf_cols.get(leaf)
            if name is None:
                name = f"__a{len(leaf_cols)}"
                leaf_cols[leaf] = name
                uses_time = uses_metric_time or any(
                    leaf.time_dim and (n == leaf.time_dim or n.startswith(leaf.time_dim + "__")) for n in a.referenced
                )
                if leaf.offset and not uses_time:
                    raise PgError(
                        FEATURE_NOT_SUPPORTED,
                        f"a metric with a time offset ({leaf.offset}) needs its time dimension in the query",
                    )
                td = leaf.time_dim if (uses_metric_time or leaf.cumulative or leaf.offset) else None
                fs = tuple(sorted(set(leaf.filters)))
                key = (leaf.model, td, leaf if leaf.cumulative else None, leaf.offset, fs)
                g = groups.get(key)
                if g is None:
                    g = groups[key] = Group(leaf.model, td, leaf if leaf.cumulative else None, leaf.offset, fs)
                g.aggs.append((name, exp.Null(), ty.TEXT))  # filled below
            return exp.column(name, table=SEM)

        expander = MetricExpander(self.models, self.dialect, leaf_column)
        metric_exprs = {ph: expander.expand(name) for ph, name in a.metrics}
        if a.base_aggs:
            if a.table.model is None:
                raise PgError(
                    FEATURE_NOT_SUPPORTED,
                    "aggregates other than over metric columns need a model table, not the metrics table",
                )
            key = (a.table.model, None, None, None, ())
            groups.setdefault(key, Group(a.table.model, None))
        if not groups:
            groups[(self._dims_model(a), None, None, None, ())] = Group(self._dims_model(a), None)

        types: dict[str, exp.DataType] = {}
        subqueries: list[tuple[exp.Select, Group]] = []
        for g in groups.values():
            scope = self._scope(g)
            needed: set[str] = set()
            sel = exp.Select()
            grain_sql = [self.translate(x, scope, needed, "query") for x in a.grain]
            for i, gx in enumerate(grain_sql):
                sel = sel.select(_as(gx, f"__g{i}"), copy=False)
            filled = []
            for name, _, _ in g.aggs:
                leaf = next(lf for lf, n in leaf_cols.items() if n == name)
                agg, t = self._leaf_agg(leaf, scope, needed)
                filled.append((name, agg, t))
                types[name] = t
            g.aggs = filled
            if g.model == a.table.model and g.cumulative is None and g.time_dim is None and not g.filters:
                for ph, node in a.base_aggs:
                    agg = self.translate(node, scope, needed, "query")
                    g.aggs.append((ph, agg, ty.TEXT))
                    types[ph] = ty.TEXT  # refined by annotation of the final statement
            conds = [self.translate(parse_snippet(f, self.dialect), scope, needed, f"filter {f!r}") for f in g.filters]
            if g.cumulative is not None:
                sub = self._cumulative(g, scope, grain_sql, a.where, conds, needed)
            else:
                for name, agg, _ in g.aggs:
                    sel = sel.select(_as(agg, name), copy=False)
                if a.where is not None:
                    conds.insert(0, self.translate(a.where, scope, needed, "query"))
                sel = self._from(sel, scope, needed)
                if conds:
                    sel = sel.where(exp.and_(*conds) if len(conds) > 1 else conds[0], copy=False)
                keyed = [x for x in grain_sql if any(True for _ in x.find_all(exp.Column))]
                if grain_sql:
                    if g.aggs and keyed:
                        sel = sel.group_by(*[x.copy() for x in keyed], copy=False)
                    elif g.aggs:
                        pass  # constants only: one row
                    elif not _unique_listing(self.models.model_by_name[g.model], scope, a.grain):
                        sel = sel.distinct(copy=False)
                elif not g.aggs:
                    sel = sel.limit(1, copy=False)
                if not sel.expressions:  # only constants selected: one row still needs a projection
                    sel = sel.select(exp.alias_(exp.Literal.number(1), "__one"), copy=False)
                sub = sel
            subqueries.append((sub, g))
        combined = self._combine(subqueries, len(a.grain))
        outer = a.outer  # built for this statement alone: completed in place
        for ph, e in metric_exprs.items():
            for col in list(outer.find_all(exp.Column)):
                if col.table == SEM and col.name == ph:
                    col.replace(e.copy())
        outer.set(
            "from_", exp.From(this=exp.Subquery(this=combined, alias=exp.TableAlias(this=exp.to_identifier(SEM))))
        )
        return outer, types

    def _dims_model(self, a: Analysis) -> str:
        if a.table.model is not None:
            return a.table.model
        best: tuple[int, str] | None = None  # fewest joins: a dimension's own model lists all its values
        for m in self.models.models:
            scope = self.builder.scope(m.name)
            if a.referenced and all(n in scope.columns for n in a.referenced):
                joins = len({j for n in a.referenced for j in scope.columns[n].joins})
                if best is None or joins < best[0]:
                    best = (joins, m.name)
        if best is not None:
            return best[1]
        raise PgError(FEATURE_NOT_SUPPORTED, "select at least one metric with metric_time, or dimensions of one model")

    def _from(self, sel: exp.Select, scope: ModelScope, needed: set[str]) -> exp.Select:
        sel = sel.from_(exp.alias_(ty.table(scope.relation), BASE, table=True, copy=False), copy=False)
        done: set[str] = set()

        def add(alias: str) -> None:
            nonlocal sel
            if alias in done:
                return
            step = scope.joins[alias]
            if step.parent:
                add(step.parent)
            done.add(alias)
            on = exp.EQ(this=step.on_left.copy(), expression=step.on_right.copy())
            sel.append("joins", exp.Join(this=exp.alias_(ty.table(step.relation), alias, table=True, copy=False),
                                         on=on, side="LEFT"))

        for alias in sorted(needed):
            add(alias)
        return sel

    def _combine(self, subs: list[tuple[exp.Select, Group]], n_grain: int) -> exp.Select:
        if len(subs) == 1:
            return subs[0][0]
        aliases = [f"__s{i}" for i in range(len(subs))]
        sel = exp.Select()
        for i in range(n_grain):
            keys = [exp.column(f"__g{i}", table=al) for al in aliases]
            sel = sel.select(_as(exp.Coalesce(this=keys[0], expressions=keys[1:]), f"__g{i}"), copy=False)
        for (_, g), al in zip(subs, aliases, strict=True):
            for name, _, _ in g.aggs:
                sel = sel.select(exp.column(name, table=al), copy=False)
        first = subs[0][0]
        sel = sel.from_(exp.Subquery(this=first, alias=exp.TableAlias(this=exp.to_identifier(aliases[0]))), copy=False)
        for k in range(1, len(subs)):
            right = exp.Subquery(this=subs[k][0], alias=exp.TableAlias(this=exp.to_identifier(aliases[k])))
            if n_grain == 0:
                sel.append("joins", exp.Join(this=right, kind="CROSS"))
                continue
            conds = []
            for i in range(n_grain):
                left = (
                    exp.Coalesce(this=exp.column(f"__g{i}", table=aliases[0]),
                                 expressions=[exp.column(f"__g{i}", table=aliases[j]) for j in range(1, k)])
                    if k > 1
                    else exp.column(f"__g{i}", table=aliases[0])
                )
                conds.append(exp.NullSafeEQ(this=left, expression=exp.column(f"__g{i}", table=aliases[k])))
            sel.append("joins", exp.Join(this=right, on=exp.and_(*conds, copy=False), side="FULL"))
        return sel

    # -- cumulative ---------------------------------------------------------------------------------
    def _cumulative(
        self,
        g: Group,
        scope: ModelScope,
        grain_sql: list[exp.Expression],
        user_where: exp.Expression | None,
        conds: list[exp.Expression],
        needed: set[str],
    ) -> exp.Select:
        """A cumulative metric at the grain. WHERE conditions on the metric's own time dimension constrain
        the reported days (as MetricFlow does), not the rows accumulated; other conditions filter rows."""
        leaf = g.cumulative
        assert leaf is not None and leaf.time_dim is not None
        metric = self.models.metric_by_name[leaf.cumulative or ""]
        tcol = scope.columns[leaf.time_dim]
        assert tcol.time_raw is not None
        time_conds: list[exp.Expression] = []
        row_conds = list(conds)
        for c in _conjuncts(user_where):
            names = [col.name for col in c.find_all(exp.Column)]
            is_time = bool(names) and all(
                (sc := scope.columns.get(n)) is not None and sc.time_key == tcol.time_key for n in names
            )
            (time_conds if is_time else row_conds).append(self.translate(c, scope, needed, "query"))
        day_t = ty.DATE
        base_day = exp.Cast(this=tcol.time_raw.copy(), to=day_t)
        # Which grain expressions use the time dimension: they are evaluated on the spine day instead.
        raw_sql = tcol.time_raw.sql()
        time_idx = [i for i, x in enumerate(grain_sql) if raw_sql in x.sql()]
        if not time_idx and (metric.window or metric.grain_to_date):
            raise PgError(
                FEATURE_NOT_SUPPORTED,
                f"cumulative metric {metric.name} with a window or grain_to_date needs its time dimension in the query",
            )
        name, agg, _ = g.aggs[0]
        where = _and(row_conds + (time_conds if not time_idx else []))
        if not time_idx:  # all-time total at the other dimensions: a plain aggregate
            sel = exp.Select()
            for i, x in enumerate(grain_sql):
                sel = sel.select(exp.alias_(x.copy(), f"__g{i}"), copy=False)
            sel = sel.select(exp.alias_(agg, name), copy=False)
            sel = self._from(sel, scope, needed)
            if where is not None:
                sel = sel.where(where, copy=False)
            if grain_sql:
                sel = sel.group_by(*[x.copy() for x in grain_sql], copy=False)
            return sel
        ds = exp.column("__ds", table="__sp")
        raw_t = tcol.raw_type if tcol.raw_type is not None and ty.is_temporal(tcol.raw_type) else day_t
        time_map = {raw_sql: exp.Cast(this=ds.copy(), to=raw_t)}
        bounds = exp.select(
            exp.alias_(exp.Min(this=base_day.copy()), "__lo"), exp.alias_(exp.Max(this=base_day.copy()), "__hi")
        )
        bounds = self._from(bounds, scope, needed)
        if where is not None:
            bounds = bounds.where(where.copy(), copy=False)
        out_where = _and([_substitute(c, time_map) for c in time_conds])
        step = exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY"))
        series = exp.GenerateDateArray(start=exp.column("__lo"), end=exp.column("__hi"), step=step)
        if self.dialect == "duckdb":
            gen: exp.Expression = exp.Cast(this=exp.Unnest(expressions=[series]), to=day_t)
        else:  # Spark: a generator cannot sit inside CAST; SEQUENCE over dates already yields dates
            gen = exp.Explode(this=series)
        spine = exp.select(exp.alias_(gen, "__ds")).from_(
            exp.Subquery(this=bounds, alias=exp.TableAlias(this=exp.to_identifier("__bounds")))
        )
        # daily cumulative values
        on: exp.Expr = exp.LTE(this=base_day.copy(), expression=ds.copy())
        if metric.window:
            count, unit = parse_window(metric.window)
            interval = exp.Interval(this=exp.Literal.string(str(count)), unit=exp.var(unit))
            lower = exp.Sub(this=ds.copy(), expression=interval)
            on = exp.and_(on, exp.GT(this=base_day.copy(), expression=lower))
        if metric.grain_to_date:
            start, _ = _trunc(ds.copy(), metric.grain_to_date)
            on = exp.and_(on, exp.GTE(this=base_day.copy(), expression=start))
        daily = exp.Select()
        spine_sub = exp.Subquery(this=spine, alias=exp.TableAlias(this=exp.to_identifier("__sp")))
        keys = []
        for i, x in enumerate(grain_sql):
            e = _substitute(x, time_map) if i in time_idx else x.copy()
            keys.append(e)
            daily = daily.select(exp.alias_(e, f"__g{i}"), copy=False)
        daily = daily.select(exp.alias_(ds.copy(), "__ds"), exp.alias_(agg, "__v"), copy=False)
        daily = daily.from_(spine_sub, copy=False)
        base = self._from(exp.Select(), scope, needed)
        daily.append("joins", exp.Join(this=exp.alias_(ty.table(scope.relation), BASE, table=True, copy=False), on=on,
                                       kind="INNER"))
        for j in base.args.get("joins") or []:
            daily.append("joins", j.copy())
        if where is not None or out_where is not None:
            daily = daily.where(_and([x for x in (where, out_where) if x is not None]), copy=False)
        daily = daily.group_by(*[k.copy() for k in keys], ds.copy(), copy=False)
        # period aggregation at the query grain
        pa_ = metric.period_agg or PeriodAgg.LAST
        v, d = exp.column("__v"), exp.column("__ds")
        if pa_ is PeriodAgg.LAST:
            pagg: exp.Expression = exp.ArgMax(this=v, expression=d)
        elif pa_ is PeriodAgg.FIRST:
            pagg = exp.ArgMin(this=v, expression=d)
        else:
            pagg = exp.Cast(this=exp.Avg(this=v), to=ty.DOUBLE)
        out = exp.Select()
        for i in range(len(grain_sql)):
            out = out.select(exp.column(f"__g{i}"), copy=False)
        out = out.select(exp.alias_(pagg, name), copy=False)
        out = out.from_(exp.Subquery(this=daily, alias=exp.TableAlias(this=exp.to_identifier("__daily"))), copy=False)
        return out.group_by(*[exp.column(f"__g{i}") for i in range(len(grain_sql))], copy=False)


def _as(e: exp.Expr, name: str) -> exp.Alias:
    """`e AS name` without copying e (the callers pass nodes built for this one place)."""
    return exp.Alias(this=e, alias=exp.to_identifier(name))


def _unique_listing(model: SemanticModel, scope: ModelScope, grain: list[exp.Expression]) -> bool:
    """A dimension listing whose grain holds the model's own primary entity has one base row per grain value
    already: every other column is a function of the row, and dimensions of other models join foreign →
    primary/unique (at most one row each). No DISTINCT then, so the warehouse streams the rows instead of
    hashing the whole result first. A unique entity is not enough: it may be NULL on many rows (as SQL's
    UNIQUE allows), and those rows collapse under DISTINCT."""
    keys = {e.name for e in model.entities if e.type is EntityType.PRIMARY}
    for x in grain:
        if isinstance(x, exp.Column) and not x.table and x.name in keys:
            col = scope.columns.get(x.name)
            if col is not None and not col.joins:
                return True
    return False


def _conjuncts(e: exp.Expression | None) -> list[exp.Expression]:
    if e is None:
        return []
    if isinstance(e, exp.And):
        return _conjuncts(e.this) + _conjuncts(e.expression)
    if isinstance(e, exp.Paren) and isinstance(e.this, exp.And):
        return _conjuncts(e.this)
    return [e]


def _and(conds: list[exp.Expression]) -> exp.Expression | None:
    if not conds:
        return None
    wrapped = [exp.Paren(this=c) if isinstance(c, exp.Or) else c for c in conds]
    if len(wrapped) == 1:
        return wrapped[0]
    return exp.And(this=_and(wrapped[:-1]), expression=wrapped[-1])


def _trunc(e: exp.Expression, grain: Grain) -> tuple[exp.Expression, exp.DataType]:
    return exp.Cast(this=exp.func("DATE_TRUNC", exp.Literal.string(grain.value), e), to=ty.DATE), ty.DATE


def _substitute(e: exp.Expression, mapping: Mapping[str, exp.Expression]) -> exp.Expression:
    def sub(node: exp.Expression) -> exp.Expression:
        rep = mapping.get(node.sql()) if isinstance(node, exp.Column) else None
        return rep.copy() if rep is not None else node

    return e.copy().transform(sub)
