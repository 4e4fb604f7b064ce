"""Model scopes: every column name a query or a metric filter may use from one model's base rows.

A scope maps names (`status`, `ordered_at__month`, `customer_id__region`, `customer_id__region_id__name`,
MetricFlow's `order__status` for the model's own primary entity, `metric_time…` when a measure's time
dimension is known) to sqlglot expressions over the model's relation (alias `__b`) and left-joined
relations. Joins go from foreign/unique/primary entities of the model to the model where that entity is
primary or unique, so each join matches at most one row and never fans out; two hops are followed.
Joins are lazy: a column lists the join aliases it needs and only those are rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types

from virtual_schema.compiler import types as ty
from virtual_schema.errors import FEATURE_NOT_SUPPORTED, PgError
from virtual_schema.loader import SemanticModelSet
from virtual_schema.schema import ColumnKind
from virtual_schema.spec import Dimension, DimensionType, EntityType, Grain, SemanticModel, grains_from

BASE = "__b"
MAX_HOPS = 2


@dataclass(frozen=True, slots=True)
class JoinStep:
    alias: str
    relation: str
    on_left: exp.Expression  # over the parent's alias
    on_right: exp.Expression  # over this alias
    parent: str | None  # None: joined to the base


@dataclass(frozen=True, slots=True)
class ScopeColumn:
    name: str
    expr: exp.Expression
    joins: tuple[str, ...]
    type: exp.DataType
    kind: ColumnKind
    description: str | None = None
    time_key: str | None = None  # identity of the underlying time dimension ("model.dim")
    time_raw: exp.Expression | None = None  # the untruncated time expression
    grain: Grain | None = None
    raw_type: exp.DataType | None = None  # type of time_raw


@dataclass
class ModelScope:
    model: SemanticModel
    relation: str
    columns: dict[str, ScopeColumn] = field(default_factory=dict)
    joins: dict[str, JoinStep] = field(default_factory=dict)

    def with_metric_time(self, time_dim: str | None, offset: str | None = None) -> ModelScope:
        """This scope plus `metric_time` (+ every grain from the dimension's own) bound to one of the model's
        time dimensions, optionally shifted forward by an offset window (derived-metric `offset_window`:
        the value reported at T is the input metric at T - offset)."""
        if time_dim is None:
            return self
        base = self.columns.get(time_dim)
        if base is None or base.time_raw is None or base.grain is None or base.raw_type is None:
            return self
        out = ModelScope(self.model, self.relation, dict(self.columns), self.joins)
        raw = base.time_raw.copy()
        if offset:
            count, unit = parse_window(offset)
            shifted: exp.Expression = exp.Add(
                this=raw, expression=exp.Interval(this=exp.Literal.string(str(count)), unit=exp.var(unit))
            )
            raw = exp.Cast(this=shifted, to=base.raw_type) if ty.is_temporal(base.raw_type) else shifted
        for i, g in enumerate(grains_from(base.grain)):
            e, t = truncate(raw, base.raw_type, g)
            names = ["metric_time", f"metric_time__{g.value}"] if i == 0 else [f"metric_time__{g.value}"]
            if offset:  # the model's own time dimension columns move too (model tables name it, not metric_time)
                names += [time_dim, f"{time_dim}__{g.value}"] if i == 0 else [f"{time_dim}__{g.value}"]
            for n in names:
                out.columns[n] = ScopeColumn(
                    n,
                    e,
                    base.joins,
                    t,
                    ColumnKind.TIME_DIMENSION,
                    base.description,
                    base.time_key,
                    raw,
                    g,
                    base.raw_type,
                )
        return out


_UNITS = {"day": "DAY", "week": "WEEK", "month": "MONTH", "quarter": "QUARTER", "year": "YEAR", "hour": "HOUR"}


def parse_window(text: str) -> tuple[int, str]:
    """'7 days' / '1 month' → (7, 'DAY') / (1, 'MONTH')."""
    count, _, unit = text.strip().partition(" ")
    u = _UNITS.get(unit.strip().lower().rstrip("s"))
    if not count.isdigit() or u is None:
        raise PgError(FEATURE_NOT_SUPPORTED, f"cannot read time window {text!r}")
    return int(count), u


def qualify(expr: exp.Expression, alias: str) -> exp.Expression:
    """Every unqualified column of a model SQL snippet refers to the model's relation."""

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table:
            return exp.column(node.this.copy(), table=alias)
        return node

    return expr.copy().transform(fix)


@lru_cache(maxsize=4096)
def parse_snippet(sql: str, dialect: str) -> exp.Expression:
    try:
        return cast(exp.Expression, sqlglot.parse_one(sql, read=dialect))
    except sqlglot.errors.ParseError as e:
        raise PgError(FEATURE_NOT_SUPPORTED, f"cannot parse model expression {sql!r}: {e}") from None


def truncate(raw: exp.Expression, raw_type: exp.DataType, grain: Grain) -> tuple[exp.Expression, exp.DataType]:
    """A time value at a grain, cast so both dialects return the same type (date stays date)."""
    is_date = raw_type.this is exp.DataType.Type.DATE
    if is_date and grain.rank >= Grain.DAY.rank:
        if grain is Grain.DAY:
            return raw, ty.DATE
        return exp.Cast(this=exp.func("DATE_TRUNC", exp.Literal.string(grain.value), raw), to=ty.DATE), ty.DATE
    out_t = raw_type if ty.is_temporal(raw_type) and not is_date else ty.TIMESTAMP
    trunc = exp.TimestampTrunc(this=raw, unit=exp.var(grain.value.upper()))  # Databricks: DATE_TRUNC, not TRUNC
    return exp.Cast(this=trunc, to=out_t), out_t


class ScopeBuilder:
    """Builds (and memoises) the scope of every model for one model set, physical schema and dialect."""

    def __init__(
        self,
        models: SemanticModelSet,
        physical: dict[str, pa.Schema],
        dialect: str,
        default_catalog: str | None = None,
        default_schema: str | None = None,
    ) -> None:
        self.models = models
        self.physical = physical
        self.dialect = dialect
        self.default_catalog = default_catalog
        self.default_schema = default_schema
        self._dim_types: dict[tuple[str, str], exp.DataType] = {}
        self._scopes: dict[str, ModelScope] = {}

    def relation(self, model: SemanticModel) -> str:
        return model.relation.qualified(self.default_catalog, self.default_schema)

    def physical_types(self, model: SemanticModel) -> dict[str, exp.DataType]:
        schema = self.physical.get(self.relation(model))
        if schema is None:
            return {}
        return {f.name.lower(): ty.arrow_to_sqlglot(f.type) for f in schema}

    def expr_type(self, model: SemanticModel, sql: str) -> exp.DataType:
        key = (model.name, sql)
        got = self._dim_types.get(key)
        if got is None:
            cols = self.physical_types(model)
            snippet = parse_snippet(sql, self.dialect)
            if isinstance(snippet, exp.Column) and not snippet.table:
                got = cols.get(snippet.name.lower(), ty.TEXT)
            else:
                q = exp.select(exp.alias_(snippet.copy(), "c")).from_("t")
                try:
                    annotated = annotate_types(
                        q, schema={"t": {k: v.sql() for k, v in cols.items()}}, dialect=self.dialect
                    )
                    got = annotated.selects[0].type or ty.TEXT
                except Exception:
                    got = ty.TEXT
                if not ty.known(got):
                    got = ty.TEXT
            self._dim_types[key] = got
        return got

    def scope(self, model_name: str) -> ModelScope:
        got = self._scopes.get(model_name)
        if got is None:
            got = self._build(self.models.model_by_name[model_name])
            self._scopes[model_name] = got
        return got

    def _own_columns(
        self,
        model: SemanticModel,
        alias: str,
        prefix: str,
        joins: tuple[str, ...],
        out: dict[str, ScopeColumn],
        *,
        entities: bool,
    ) -> None:
        if entities:
            for e in model.entities:
                name = prefix + e.name
                if name not in out:
                    out[name] = ScopeColumn(
                        name,
                        qualify(parse_snippet(e.sql, self.dialect), alias),
                        joins,
                        self.expr_type(model, e.sql),
                        ColumnKind.ENTITY,
                        e.description or e.label,
                    )
        for d in model.dimensions:
            self._dimension_columns(model, d, alias, prefix, joins, out)

    def _dimension_columns(
        self,
        model: SemanticModel,
        d: Dimension,
        alias: str,
        prefix: str,
        joins: tuple[str, ...],
        out: dict[str, ScopeColumn],
    ) -> None:
        raw = qualify(parse_snippet(d.sql, self.dialect), alias)
        raw_t = self.expr_type(model, d.sql)
        name = prefix + d.name
        if d.type is not DimensionType.TIME:
            t = ty.BOOLEAN if d.type is DimensionType.BOOLEAN and not ty.known(raw_t) else raw_t
            out.setdefault(name, ScopeColumn(name, raw, joins, t, ColumnKind.DIMENSION, d.description or d.label))
            return
        key = f"{model.name}.{d.name}"
        for i, g in enumerate(d.grains):
            e, t = truncate(raw, raw_t, g)
            col_name = name if i == 0 else f"{name}__{g.value}"
            out.setdefault(
                col_name,
                ScopeColumn(
                    col_name, e, joins, t, ColumnKind.TIME_DIMENSION, d.description or d.label, key, raw, g, raw_t
                ),
            )
            if i == 0:
                out.setdefault(
                    f"{name}__{g.value}",
                    ScopeColumn(
                        f"{name}__{g.value}",
                        e,
                        joins,
                        t,
                        ColumnKind.TIME_DIMENSION,
                        d.description or d.label,
                        key,
                        raw,
                        g,
                        raw_t,
                    ),
                )

    def _targets(self, model: SemanticModel, exclude: set[str]) -> list[tuple[str, SemanticModel]]:
        """(entity, model) pairs a join can reach: every other model where the entity is primary or unique
        (at most one row per key, so no fan-out); primary targets first so their columns win name clashes."""
        out: list[tuple[str, SemanticModel]] = []
        for e in model.entities:
            if e.type is EntityType.NATURAL:
                continue
            for kind in (EntityType.PRIMARY, EntityType.UNIQUE):
                for other in self.models.models:
                    if other.name in exclude or other.name == model.name:
                        continue
                    oe = other.entity(e.name)
                    if oe is not None and oe.type is kind:
                        out.append((e.name, other))
        return out

    def _build(self, model: SemanticModel) -> ModelScope:
        scope = ModelScope(model, self.relation(model))
        self._own_columns(model, BASE, "", (), scope.columns, entities=True)
        pe = model.primary_entity_name
        if pe:
            self._own_columns(model, BASE, pe + "__", (), scope.columns, entities=False)
        self._hop(model, BASE, "", (), {model.name}, scope, 1)
        return scope

    def _hop(
        self,
        model: SemanticModel,
        alias: str,
        prefix: str,
        joins: tuple[str, ...],
        seen: set[str],
        scope: ModelScope,
        depth: int,
    ) -> None:
        if depth > MAX_HOPS:
            return
        used: set[str] = set()
        for entity, target in self._targets(model, seen):
            left_e = model.entity(entity)
            right_e = target.entity(entity)
            assert left_e is not None and right_e is not None
            j_alias = f"__j_{prefix}{entity}" + (f"__{target.name}" if entity in used else "")
            used.add(entity)
            step = JoinStep(
                j_alias,
                self.relation(target),
                qualify(parse_snippet(left_e.sql, self.dialect), alias),
                qualify(parse_snippet(right_e.sql, self.dialect), j_alias),
                None if alias == BASE else alias,
            )
            scope.joins.setdefault(j_alias, step)
            path = (*joins, j_alias)
            new_prefix = f"{prefix}{entity}__"
            self._own_columns(target, j_alias, new_prefix, path, scope.columns, entities=False)
            if prefix:  # multi-hop: also answer to `<entity>__<dim>` (the metrics table's name) unless taken
                self._own_columns(target, j_alias, f"{entity}__", path, scope.columns, entities=False)
            self._hop(target, j_alias, new_prefix, path, seen | {target.name}, scope, depth + 1)
