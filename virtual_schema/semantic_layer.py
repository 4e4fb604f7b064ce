"""The semantic layer at one model version: virtual tables for clients plus a cached compiler.

`build_semantic_layer` turns a validated `SemanticModelSet` and the warehouse's physical Arrow schemas into
a `VirtualSchema` (one table per model, plus the MetricFlow-style `metrics` table) and a compiler for
statements over it. Column types are computed from the physical types and the aggregation rules; nothing
runs in the warehouse. Per-model tables hold entities, dimensions (time dimensions at their default grain
and as `<dim>__<grain>`), dimensions of models reachable through the model's entities
(`<entity>__<dim>`, two hops: `<e1>__<e2>__<dim>`), the metrics computed from this model's measures only,
and measures that no metric shadows. The `metrics` table has `metric_time` (+ grains), every metric, and
every dimension as `<primary entity>__<dim>`.

`SemanticLayer.compile` is thread-safe: the LRU caches (by text, by shape) are guarded by a lock and compilation
itself only reads immutable state (scopes are memoised per model; concurrent first builds produce equal values).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types

from virtual_schema.compiler import types as ty
from virtual_schema.compiler.api import CompiledQuery
from virtual_schema.compiler.bind import TableColumn, TableInfo
from virtual_schema.compiler.compile import Compiler
from virtual_schema.compiler.metrics import Leaf, MetricExpander, measure_agg
from virtual_schema.compiler.scope import ScopeBuilder
from virtual_schema.compiler.shape import ShapeTemplate, lift
from virtual_schema.compiler.to_sql import Planner
from virtual_schema.errors import PgError
from virtual_schema.loader import SemanticModelSet
from virtual_schema.schema import ColumnKind, ForeignKey, VirtualColumn, VirtualSchema, VirtualTable
from virtual_schema.spec import EntityType, PeriodAgg, SemanticModel

METRICS_TABLE = "metrics"
SUPPORTED_DIALECTS = ("duckdb", "databricks")


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int  # the exact statement text was compiled before
    shape_hits: int  # a statement of the same shape was: its template was filled with this one's literals
    compiles: int  # full compiles (bind → plan → render), errors included


class SemanticLayer:
    """Compiled statements are cached twice: by exact text (a repeated statement costs a dict lookup) and by
    shape (compiler/shape.py: the same statement with other literals fills the shape's template)."""

    def __init__(self, schema: VirtualSchema, compiler: Compiler, cache_size: int = 4096) -> None:
        self.schema = schema
        self._compiler = compiler
        self._cache: OrderedDict[tuple[str, tuple[int, ...]], CompiledQuery | PgError] = OrderedDict()
        self._shapes: OrderedDict[tuple[object, tuple[int, ...]], ShapeTemplate | None] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_size = cache_size
        self._hits = self._shape_hits = self._compiles = 0

    @property
    def dialect(self) -> str:
        return self._compiler.dialect

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self._hits, self._shape_hits, self._compiles)

    def with_empty_cache(self, cache_size: int | None = None) -> SemanticLayer:
        """The same schema and compiler behind new, empty caches (`cache_size=0`: every compile is a full one)."""
        return SemanticLayer(self.schema, self._compiler, self._cache_size if cache_size is None else cache_size)

    def compile(self, sql: str, param_types: Sequence[int] = ()) -> CompiledQuery:
        """Warehouse SQL and result shape for one statement; raises PgError. Cached (errors too)."""
        key = (sql, tuple(param_types))
        with self._lock:
            got = self._cache.get(key)
            if got is not None:
                self._cache.move_to_end(key)
                self._hits += 1
        if got is None:
            got = self._compile_new(sql, key[1])
            with self._lock:
                _put(self._cache, key, got, self._cache_size)
        if isinstance(got, PgError):
            raise PgError(got.sqlstate, got.message, detail=got.detail, hint=got.hint, position=got.position)
        return got

    def _compile_new(self, sql: str, param_types: tuple[int, ...]) -> CompiledQuery | PgError:
        shape = lift(sql) if self._cache_size > 0 else None
        skey = (shape.key, param_types) if shape is not None else None
        if skey is not None:
            with self._lock:
                template = self._shapes.get(skey, _UNSEEN)
                if template is not _UNSEEN:
                    self._shapes.move_to_end(skey)
            if isinstance(template, ShapeTemplate):
                assert shape is not None
                with self._lock:
                    self._shape_hits += 1
                return template.fill(shape)
            if template is None:
                shape = None  # a shape without a template: compile the statement itself
        with self._lock:
            self._compiles += 1
        try:
            got, template = self._compiler.compile_shape(sql, param_types, shape)
        except PgError as e:
            return e  # errors (their positions) belong to the text: not cached by shape
        if skey is not None:
            with self._lock:
                _put(self._shapes, skey, template, self._cache_size)
        return got


_UNSEEN = object()


def _put(cache: OrderedDict[Any, Any], key: Any, value: Any, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


def _metric_leaves(
    models: SemanticModelSet, dialect: str, arg_types: dict[tuple[str, str], exp.DataType]
) -> dict[str, tuple[set[str], exp.DataType]]:
    """For every metric: the models its measures come from and its result type."""
    out: dict[str, tuple[set[str], exp.DataType]] = {}

    for metric in models.metrics:
        seen: list[Leaf] = []

        def leaf_column(leaf: Leaf, seen: list[Leaf] = seen) -> exp.Expression:
            seen.append(leaf)
            return exp.column(f"l{len(seen) - 1}", table="t")

        try:
            e = MetricExpander(models, dialect, leaf_column).expand(metric.name)
            out[metric.name] = ({lf.model for lf in seen}, _expr_type(e, seen, models, arg_types))
        except PgError:
            continue  # not compilable (conversion, offsets, …): not offered as a column
    return out


def _expr_type(
    e: exp.Expression, leaves: list[Leaf], models: SemanticModelSet, arg_types: dict[tuple[str, str], exp.DataType]
) -> exp.DataType:
    schema: dict[str, str] = {}
    for i, lf in enumerate(leaves):
        got = models.measure(lf.measure)
        assert got is not None
        _, measure = got
        arg_t = arg_types.get((lf.model, lf.measure), ty.DOUBLE)
        _, leaf_t = measure_agg(measure.agg, exp.column("x"), arg_t, percentile=0.5)
        cum = models.metric_by_name.get(lf.cumulative) if lf.cumulative else None
        if cum is not None and cum.period_agg is PeriodAgg.AVERAGE:
            leaf_t = ty.DOUBLE  # the average of daily cumulative values is fractional
        schema[f"l{i}"] = leaf_t.sql()
    if isinstance(e, exp.Column):
        return exp.DataType.build(schema[e.name])
    t: exp.DataType | None
    try:
        q = annotate_types(
            exp.select(exp.alias_(e.copy(), "v")).from_(exp.alias_(exp.to_table("t"), "t", table=True)),
            schema={"t": schema},
        )
        t = q.selects[0].type
    except Exception:  # best effort: double is what arithmetic over metrics usually gives
        t = None
    if not ty.known(t) or (
        t is not None and t.this in ty.INTEGER_TYPES and any(isinstance(n, exp.Div) for n in e.walk())
    ):
        return ty.DOUBLE
    assert t is not None
    return t


def build_semantic_layer(
    models: SemanticModelSet,
    physical: Mapping[str, pa.Schema],
    dialect: str,
    version: int = 0,
    *,
    default_catalog: str | None = None,
    default_schema: str | None = None,
    cache_size: int = 4096,
) -> SemanticLayer:
    """Virtual tables + compiler. `physical` is keyed by `models.relations(default_catalog, default_schema)`."""
    if dialect not in SUPPORTED_DIALECTS:
        raise ValueError(f"unsupported dialect {dialect!r}; expected one of {SUPPORTED_DIALECTS}")
    builder = ScopeBuilder(models, dict(physical), dialect, default_catalog, default_schema)
    arg_types = {(m.name, ms.name): builder.expr_type(m, ms.sql) for m in models.models for ms in m.measures}
    leaves = _metric_leaves(models, dialect, arg_types)
    tables: list[VirtualTable] = []
    infos: dict[str, TableInfo] = {}
    for m in models.models:
        vt, info = _model_table(m, builder, models, leaves)
        tables.append(vt)
        infos[vt.name] = info
    if METRICS_TABLE not in infos:
        vt, info = _metrics_table(models, builder, leaves)
        tables.append(vt)
        infos[vt.name] = info
    schema = VirtualSchema(tuple(tables), version)
    compiler = Compiler(schema, infos, Planner(builder), dialect)
    return SemanticLayer(schema, compiler, cache_size)


def _model_table(
    m: SemanticModel, builder: ScopeBuilder, models: SemanticModelSet, leaves: dict[str, tuple[set[str], exp.DataType]]
) -> tuple[VirtualTable, TableInfo]:
    scope = builder.scope(m.name)
    cols: dict[str, TableColumn] = {}
    vcols: list[VirtualColumn] = []
    pe = m.primary_entity_name
    own_alias = f"{pe}__" if pe else None
    exposed: dict[str, str] = {e.name: e.exposed for e in m.entities}
    for d in m.dimensions:
        exposed[d.name] = d.exposed
        for g in d.grains:
            exposed[f"{d.name}__{g.value}"] = f"{d.exposed}__{g.value}"

    def add(name: str, kind: ColumnKind, t: exp.DataType, desc: str | None, shown: str | None = None) -> None:
        shown = shown or exposed.get(name, name)
        if shown in cols:
            return
        cols[shown] = TableColumn(shown, kind, t, name)
        vcols.append(VirtualColumn(shown, ty.pg_type(t), kind, desc))

    for name, c in scope.columns.items():
        if own_alias and name.startswith(own_alias) and not c.joins:
            continue  # MetricFlow-style alias of the model's own dimension: usable in filters, not a column
        add(name, c.kind, c.type, c.description)
    for metric in models.metrics:
        got = leaves.get(metric.name)
        if got and got[0] == {m.name}:
            add(
                metric.name,
                ColumnKind.METRIC,
                got[1],
                _describe(metric.description, metric.label, metric.format),
                metric.exposed,
            )
    for ms in m.measures:
        if ms.name not in models.metric_by_name:
            _, t = _measure_type(m, ms.name, builder)
            add(ms.name, ColumnKind.MEASURE, t, _describe(ms.description, ms.label, ms.format), ms.exposed)
    pk = tuple(exposed.get(e.name, e.name) for e in m.entities if e.type is EntityType.PRIMARY)
    fks = []
    for e in m.entities:
        if e.type is not EntityType.FOREIGN:
            continue
        owner = models.entity_owner(e.name)
        if owner is not None and owner.name != m.name:
            oe = owner.entity(e.name)
            ref_col = oe.exposed if oe is not None else e.name
            fks.append(ForeignKey(f"{m.name}_{e.name}_fkey", (e.exposed,), owner.exposed, (ref_col,)))
    vt = VirtualTable(
        m.exposed, tuple(vcols), description=m.description or m.label, primary_key=pk, foreign_keys=tuple(fks)
    )
    return vt, TableInfo(m.exposed, m.name, cols)


def _measure_type(m: SemanticModel, measure: str, builder: ScopeBuilder) -> tuple[exp.Expression, exp.DataType]:
    ms = m.measure(measure)
    assert ms is not None
    return measure_agg(ms.agg, exp.column("x"), builder.expr_type(m, ms.sql))


def _metrics_table(
    models: SemanticModelSet, builder: ScopeBuilder, leaves: dict[str, tuple[set[str], exp.DataType]]
) -> tuple[VirtualTable, TableInfo]:
    cols: dict[str, TableColumn] = {}
    vcols: list[VirtualColumn] = []

    def add(name: str, kind: ColumnKind, t: exp.DataType, desc: str | None, shown: str | None = None) -> None:
        shown = shown or name
        if shown not in cols:
            cols[shown] = TableColumn(shown, kind, t, name)
            vcols.append(VirtualColumn(shown, ty.pg_type(t), kind, desc))

    # metric_time: the type of the first default agg time dimension (timestamps win over dates).
    mt_type: exp.DataType | None = None
    for m in models.models:
        atd = m.defaults.agg_time_dimension
        if atd:
            c = builder.scope(m.name).columns.get(atd)
            if c is not None and (mt_type is None or c.type.this is not exp.DataType.Type.DATE):
                mt_type = c.type
    add("metric_time", ColumnKind.TIME_DIMENSION, mt_type or ty.TIMESTAMP, "The aggregation time of each metric")
    for g in ("day", "week", "month", "quarter", "year"):
        add(f"metric_time__{g}", ColumnKind.TIME_DIMENSION, mt_type or ty.TIMESTAMP, None)
    for metric in models.metrics:
        got = leaves.get(metric.name)
        if got:
            add(
                metric.name,
                ColumnKind.METRIC,
                got[1],
                _describe(metric.description, metric.label, metric.format),
                metric.exposed,
            )
    for m in models.models:
        pe = m.primary_entity_name
        if not pe:
            continue
        scope = builder.scope(m.name)
        for name, c in scope.columns.items():
            if name.startswith(pe + "__") and not c.joins:
                add(name, c.kind, c.type, c.description)
        if m.primary is not None:
            c = scope.columns.get(pe)
            if c is not None:
                add(pe, ColumnKind.ENTITY, c.type, m.primary.description)
    vt = VirtualTable(METRICS_TABLE, tuple(vcols), description="Every metric, by metric_time and any dimension")
    return vt, TableInfo(METRICS_TABLE, None, cols)


def _describe(description: str | None, label: str | None, fmt: str | None) -> str | None:
    """A column comment from what the model says: description (or label), plus the display format if any."""
    text = description or label
    if fmt:
        text = f"{text} (format: {fmt})" if text else f"format: {fmt}"
    return text
