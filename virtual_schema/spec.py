"""The semantic model format, as frozen pydantic models.

One internal shape serves both input formats: ours (one model per YAML file, metrics inside the model)
and dbt/MetricFlow's (`semantic_models:` + `metrics:` lists with `type_params`); the loader converts the
latter into this shape. Metrics live in one project-wide namespace (`SemanticModelSet.metrics`), as in
MetricFlow; a metric declared inside a model file remembers that model in `Metric.model`.

Fields MetricFlow knows but the compiler does not implement (conversion metrics, non-additive dimensions,
percentiles, offsets, fill_nulls_with) are accepted so real dbt projects load; compiling a query that needs
them fails with 0A000 and a reason instead of a wrong number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
# The identifier clients see when it must differ from `name` (e.g. Cube's camelCase `maxPrice`, `__user`).
SqlName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=63)]


class Grain(StrEnum):
    """Time granularities, finest first (the order matters: a dimension offers its own grain and coarser)."""

    NANOSECOND = "nanosecond"
    MICROSECOND = "microsecond"
    MILLISECOND = "millisecond"
    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    @property
    def rank(self) -> int:
        return _GRAIN_ORDER.index(self)


_GRAIN_ORDER = list(Grain)
GRAINS_BY_NAME = {g.value: g for g in Grain}


def grains_from(finest: Grain) -> tuple[Grain, ...]:
    """A grain and every coarser one (what MetricFlow offers for a time dimension)."""
    return tuple(g for g in Grain if g.rank >= finest.rank)


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


class EntityType(StrEnum):
    PRIMARY = "primary"
    FOREIGN = "foreign"
    UNIQUE = "unique"
    NATURAL = "natural"


class Entity(_Spec):
    name: Name
    sql_name: SqlName | None = None
    type: EntityType
    expr: str | None = None
    description: str | None = None
    label: str | None = None

    @property
    def sql(self) -> str:
        return self.expr or self.name

    @property
    def exposed(self) -> str:
        """The name clients use."""
        return self.sql_name or self.name


class DimensionType(StrEnum):
    CATEGORICAL = "categorical"
    TIME = "time"
    BOOLEAN = "boolean"


class Dimension(_Spec):
    name: Name
    sql_name: SqlName | None = None
    type: DimensionType
    expr: str | None = None
    # Granularities offered; the first (finest) is the default grain of the plain column.
    time_granularity: tuple[Grain, ...] = ()
    description: str | None = None
    label: str | None = None
    is_partition: bool = False

    @field_validator("time_granularity")
    @classmethod
    def _sorted(cls, v: tuple[Grain, ...]) -> tuple[Grain, ...]:
        return tuple(sorted(set(v), key=lambda g: g.rank))

    @property
    def sql(self) -> str:
        return self.expr or self.name

    @property
    def grains(self) -> tuple[Grain, ...]:
        """Grains of a time dimension (day and coarser unless the model says otherwise)."""
        if self.type is not DimensionType.TIME:
            return ()
        return self.time_granularity or grains_from(Grain.DAY)

    @property
    def default_grain(self) -> Grain:
        return self.grains[0] if self.grains else Grain.DAY

    @property
    def exposed(self) -> str:
        """The name clients use."""
        return self.sql_name or self.name


class Agg(StrEnum):
    SUM = "sum"
    COUNT = "count"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    COUNT_DISTINCT = "count_distinct"
    SUM_BOOLEAN = "sum_boolean"
    MEDIAN = "median"
    PERCENTILE = "percentile"


class AggParams(_Spec):
    percentile: float | None = None
    use_discrete_percentile: bool = False
    use_approximate_percentile: bool = False


class NonAdditiveDimension(_Spec):
    name: str
    window_choice: Literal["min", "max"] = "max"
    window_groupings: tuple[str, ...] = ()


class Measure(_Spec):
    name: Name
    sql_name: SqlName | None = None
    agg: Agg
    expr: str | None = None
    create_metric: bool = False
    description: str | None = None
    label: str | None = None
    format: str | None = None
    agg_time_dimension: str | None = None
    agg_params: AggParams | None = None
    non_additive_dimension: NonAdditiveDimension | None = None

    @property
    def sql(self) -> str:
        return self.expr or self.name

    @property
    def exposed(self) -> str:
        """The name clients use."""
        return self.sql_name or self.name


class Relation(_Spec):
    """Where a model reads: `ref('x')` (default catalog/schema + x) or an explicit qualified name."""

    name: str
    schema_name: str | None = None
    catalog: str | None = None
    is_ref: bool = False

    def qualified(self, default_catalog: str | None = None, default_schema: str | None = None) -> str:
        schema = self.schema_name
        catalog = self.catalog
        if self.is_ref or schema is None:
            schema = schema or default_schema
            catalog = catalog or (default_catalog if schema else None)
        return ".".join(p for p in (catalog, schema, self.name) if p)


class Defaults(_Spec):
    agg_time_dimension: str | None = None


class SemanticModel(_Spec):
    name: Name
    sql_name: SqlName | None = None
    relation: Relation
    description: str | None = None
    label: str | None = None
    defaults: Defaults = Defaults()
    primary_entity: Name | None = None  # dbt: a primary entity without a column
    entities: tuple[Entity, ...] = ()
    dimensions: tuple[Dimension, ...] = ()
    measures: tuple[Measure, ...] = ()
    source_file: str | None = Field(default=None, exclude=True)

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.entities if e.name == name), None)

    def dimension(self, name: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.name == name), None)

    def measure(self, name: str) -> Measure | None:
        return next((m for m in self.measures if m.name == name), None)

    @property
    def primary(self) -> Entity | None:
        return next((e for e in self.entities if e.type is EntityType.PRIMARY), None)

    @property
    def primary_entity_name(self) -> str | None:
        p = self.primary
        return p.name if p else self.primary_entity

    def agg_time_dimension_of(self, measure: Measure) -> str | None:
        return measure.agg_time_dimension or self.defaults.agg_time_dimension

    @property
    def exposed(self) -> str:
        """The name clients use."""
        return self.sql_name or self.name


class MetricType(StrEnum):
    SIMPLE = "simple"
    RATIO = "ratio"
    DERIVED = "derived"
    CUMULATIVE = "cumulative"
    CONVERSION = "conversion"


class MetricInput(_Spec):
    """A metric used by a ratio/derived metric, optionally filtered, aliased or time-offset."""

    name: str
    filter: str | None = None
    alias: str | None = None
    offset_window: str | None = None
    offset_to_grain: Grain | None = None


class PeriodAgg(StrEnum):
    FIRST = "first"
    LAST = "last"
    AVERAGE = "average"


class Metric(_Spec):
    name: Name
    sql_name: SqlName | None = None
    type: MetricType
    description: str | None = None
    label: str | None = None
    format: str | None = None
    filter: str | None = None
    # simple / cumulative
    measure: str | None = None
    measure_filter: str | None = None  # dbt: type_params.measure.filter
    fill_nulls_with: int | float | None = None
    join_to_timespine: bool = False
    # ratio
    numerator: MetricInput | None = None
    denominator: MetricInput | None = None
    # derived
    expr: str | None = None
    metrics: tuple[MetricInput, ...] = ()
    # cumulative
    window: str | None = None
    grain_to_date: Grain | None = None
    period_agg: PeriodAgg | None = None
    # conversion (accepted, not compiled)
    conversion: dict[str, object] | None = None
    model: str | None = Field(default=None, exclude=True)  # model file it was declared in (our format)
    source_file: str | None = Field(default=None, exclude=True)

    @property
    def exposed(self) -> str:
        return self.sql_name or self.name

    def inputs(self) -> Iterator[str]:
        """Names of the metrics this one reads (ratio and derived)."""
        if self.numerator:
            yield self.numerator.name
        if self.denominator:
            yield self.denominator.name
        for m in self.metrics:
            yield m.name


# What a model file in our format looks like before conversion (metrics inside the model).
class ModelMetric(_Spec):
    name: Name
    sql_name: SqlName | None = None
    type: MetricType
    description: str | None = None
    label: str | None = None
    format: str | None = None
    filter: str | None = None
    measure: str | None = None
    numerator: str | MetricInput | None = None
    denominator: str | MetricInput | None = None
    expr: str | None = None
    metrics: tuple[str | MetricInput, ...] = ()
    window: str | None = None
    grain_to_date: Grain | None = None
    period_agg: PeriodAgg | None = None
    fill_nulls_with: int | float | None = None


class ModelFile(_Spec):
    """Our one-model-per-file format."""

    name: Name
    sql_name: SqlName | None = None
    model: str
    description: str | None = None
    label: str | None = None
    defaults: Defaults = Defaults()
    primary_entity: Name | None = None
    entities: tuple[Entity, ...] = ()
    dimensions: tuple[Dimension, ...] = ()
    measures: tuple[Measure, ...] = ()
    metrics: tuple[ModelMetric, ...] = ()
