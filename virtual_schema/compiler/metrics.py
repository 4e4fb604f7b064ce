"""Metric algebra: every metric as an expression over measure-level aggregates ("leaves").

A leaf is one aggregate of one measure over its model's base rows, with the filters that apply to it
(metric filter, measure filter, ratio/derived input filters) and the time dimension that `metric_time`
means for it. Leaves of the same model and time dimension are computed in one grouped subquery; the
metric expression then combines leaf columns: ratio = CAST(num AS DOUBLE) / NULLIF(den, 0), derived = its
expression over its inputs, simple = the leaf (COALESCE'd with fill_nulls_with when set).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from virtual_schema.compiler import types as ty
from virtual_schema.compiler.scope import parse_snippet
from virtual_schema.errors import FEATURE_NOT_SUPPORTED, PgError
from virtual_schema.loader import SemanticModelSet
from virtual_schema.spec import Agg, Metric, MetricInput, MetricType


@dataclass(frozen=True, slots=True)
class Leaf:
    model: str
    measure: str
    filters: tuple[str, ...]
    time_dim: str | None
    cumulative: str | None = None  # metric name when the leaf is a cumulative metric
    offset: str | None = None  # derived-metric input offset_window: metric_time is shifted by this


def measure_agg(
    agg: Agg, arg: exp.Expression, arg_type: exp.DataType, percentile: float | None = None, discrete: bool = False
) -> tuple[exp.Expression, exp.DataType]:
    """The aggregate for a measure, cast to the type we announce."""
    if agg is Agg.SUM:
        t = ty.sum_type(arg_type)
        return exp.Cast(this=exp.Sum(this=arg), to=t), t
    if agg is Agg.SUM_BOOLEAN:
        return exp.Cast(this=exp.Sum(this=exp.Cast(this=arg, to=ty.BIGINT)), to=ty.BIGINT), ty.BIGINT
    if agg is Agg.COUNT:
        return exp.Count(this=arg), ty.BIGINT
    if agg is Agg.COUNT_DISTINCT:
        return exp.Count(this=exp.Distinct(expressions=[arg])), ty.BIGINT
    if agg is Agg.AVG:
        return exp.Cast(this=exp.Avg(this=arg), to=ty.DOUBLE), ty.DOUBLE
    if agg is Agg.MIN:
        return exp.Min(this=arg), arg_type
    if agg is Agg.MAX:
        return exp.Max(this=arg), arg_type
    if agg is Agg.MEDIAN:
        return exp.Cast(this=exp.Median(this=arg), to=ty.DOUBLE), ty.DOUBLE
    if agg is Agg.PERCENTILE and percentile is not None:
        cls = exp.PercentileDisc if discrete else exp.PercentileCont
        node = exp.WithinGroup(
            this=cls(this=exp.Literal.number(percentile)), expression=exp.Order(expressions=[exp.Ordered(this=arg)])
        )
        return exp.Cast(this=node, to=ty.DOUBLE), ty.DOUBLE
    raise PgError(FEATURE_NOT_SUPPORTED, f"aggregation {agg.value} is not supported")


_REAGGREGATE = {Agg.SUM: "sum", Agg.COUNT: "sum", Agg.SUM_BOOLEAN: "sum", Agg.MIN: "min", Agg.MAX: "max"}


def reaggregation(models: SemanticModelSet, name: str) -> str | None:
    """The SQL aggregate that, applied to a metric's values at a finer grain, gives the metric at a coarser one
    (a sum of sums or counts, a min of mins, a max of maxes); None when nothing does: averages, distinct counts,
    percentiles, ratios, derived and cumulative metrics, or a NULL filled in per row."""
    metric = models.metric_by_name.get(name)
    if metric is not None:
        if metric.type is not MetricType.SIMPLE or metric.fill_nulls_with is not None or metric.measure is None:
            return None
        name = metric.measure
    got = models.measure(name)
    if got is None or got[1].non_additive_dimension is not None:
        return None
    return _REAGGREGATE.get(got[1].agg)


class MetricExpander:
    """Turns a metric name into an expression over leaf placeholders, registering leaves as it goes."""

    def __init__(self, models: SemanticModelSet, dialect: str, leaf_column: Callable[[Leaf], exp.Expression]) -> None:
        self.models = models
        self.dialect = dialect
        self.leaf_column = leaf_column

    def expand(self, name: str, filters: tuple[str, ...] = (), offset: str | None = None) -> exp.Expression:
        metric = self.models.metric_by_name.get(name)
        if metric is None:
            got = self.models.measure(name)
            if got is None:
                raise PgError(FEATURE_NOT_SUPPORTED, f"{name!r} is neither a metric nor a measure")
            model, measure = got
            time_dim = model.agg_time_dimension_of(measure)
            return self.leaf_column(Leaf(model.name, measure.name, filters, time_dim, None, offset))
        return self._metric(metric, filters, offset)

    def _metric(self, m: Metric, filters: tuple[str, ...], offset: str | None) -> exp.Expression:
        own = tuple(f for f in (m.filter,) if f)
        fs = filters + own
        if m.type in (MetricType.SIMPLE, MetricType.CUMULATIVE):
            assert m.measure is not None
            got = self.models.measure(m.measure)
            assert got is not None
            model, measure = got
            if measure.non_additive_dimension is not None:
                raise PgError(FEATURE_NOT_SUPPORTED, f"metric {m.name}: non-additive dimensions are not supported")
            if m.join_to_timespine:
                raise PgError(FEATURE_NOT_SUPPORTED, f"metric {m.name}: join_to_timespine is not supported")
            leaf_fs = fs + ((m.measure_filter,) if m.measure_filter else ())
            for f in leaf_fs:
                if "{{" in f:
                    raise PgError(FEATURE_NOT_SUPPORTED, f"metric {m.name}: filter {f!r} is not supported")
            leaf = Leaf(
                model.name,
                measure.name,
                leaf_fs,
                model.agg_time_dimension_of(measure),
                m.name if m.type is MetricType.CUMULATIVE else None,
                offset,
            )
            col = self.leaf_column(leaf)
            if m.fill_nulls_with is not None:
                return exp.Coalesce(this=col, expressions=[exp.Literal.number(m.fill_nulls_with)])
            return col
        if m.type is MetricType.RATIO:
            assert m.numerator is not None and m.denominator is not None
            num = self._input(m.numerator, fs, offset)
            den = self._input(m.denominator, fs, offset)
            return exp.Div(
                this=exp.Cast(this=num, to=ty.DOUBLE),
                expression=exp.Nullif(this=exp.Cast(this=den, to=ty.DOUBLE), expression=exp.Literal.number(0)),
            )
        if m.type is MetricType.DERIVED:
            assert m.expr is not None
            by_name: dict[str, exp.Expression] = {}
            for inp in m.metrics:
                by_name[inp.alias or inp.name] = exp.Paren(this=self._input(inp, fs, offset))
            tree = parse_snippet(m.expr, self.dialect).copy()

            def sub(node: exp.Expression) -> exp.Expression:
                if isinstance(node, exp.Column) and not node.table and node.name in by_name:
                    return by_name[node.name].copy()
                return node

            out = tree.transform(sub)
            if isinstance(out, exp.Div):  # a/b over integers is integer division in some engines: force double
                out = exp.Div(this=exp.Cast(this=out.this, to=ty.DOUBLE), expression=out.expression)
            return exp.Paren(this=out)
        raise PgError(FEATURE_NOT_SUPPORTED, f"metric {m.name}: {m.type.value} metrics are not supported")

    def _input(self, inp: MetricInput, filters: tuple[str, ...], offset: str | None) -> exp.Expression:
        if inp.offset_to_grain:
            raise PgError(FEATURE_NOT_SUPPORTED, f"metric input {inp.name}: offset_to_grain is not supported")
        if inp.offset_window and offset:
            raise PgError(FEATURE_NOT_SUPPORTED, f"metric input {inp.name}: nested time offsets are not supported")
        return self.expand(inp.name, filters + ((inp.filter,) if inp.filter else ()), inp.offset_window or offset)
