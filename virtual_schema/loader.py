"""Load a models directory (our format and dbt/MetricFlow's) into one validated `SemanticModelSet`.

Every YAML file under the directory is read; every problem of every file is collected as
`file:line: field: reason` and raised together in one `ModelLoadError`, so a user fixes a whole set at once.
A directory is in our format file by file (a mapping with `name` + `model`) or in dbt's (`semantic_models:`,
`metrics:`, or MetricFlow's one-object-per-document `semantic_model:` / `metric:`); both may be mixed.
Validation rules (all reported, none fatal before the others ran): duplicate model/measure/metric names,
element names colliding inside a model (they become columns of one table), unknown measures or metrics,
cyclic derived metrics, `agg_time_dimension` that is not a time dimension of the model, cumulative metrics
without an aggregation time dimension, and (our format only, where every foreign entity is meant to be a
join) foreign entities that no model has as primary/unique.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from virtual_schema.spec import (
    GRAINS_BY_NAME,
    Dimension,
    DimensionType,
    EntityType,
    Measure,
    Metric,
    MetricInput,
    MetricType,
    ModelFile,
    Relation,
    SemanticModel,
    grains_from,
)
from virtual_schema.yaml_lines import LineDict, line_of, load_documents, with_line


class ModelLoadError(Exception):
    """All problems of a model set; `problems` are `file:line: field: reason` strings."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid semantic models:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class SemanticModelSet:
    models: tuple[SemanticModel, ...]
    metrics: tuple[Metric, ...]
    model_by_name: dict[str, SemanticModel] = field(default_factory=dict, compare=False, repr=False)
    metric_by_name: dict[str, Metric] = field(default_factory=dict, compare=False, repr=False)
    measure_owner: dict[str, SemanticModel] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.model_by_name.update({m.name: m for m in self.models})
        self.metric_by_name.update({m.name: m for m in self.metrics})
        for model in self.models:
            for measure in model.measures:
                self.measure_owner.setdefault(measure.name, model)

    def relations(self, default_catalog: str | None = None, default_schema: str | None = None) -> set[str]:
        """The physical relations the models read, with ref() resolved against the defaults."""
        return {m.relation.qualified(default_catalog, default_schema) for m in self.models}

    def measure(self, name: str) -> tuple[SemanticModel, Measure] | None:
        model = self.measure_owner.get(name)
        if model is None:
            return None
        measure = model.measure(name)
        assert measure is not None
        return model, measure

    def entity_owner(self, entity: str) -> SemanticModel | None:
        """The model where an entity is primary (else unique, else natural): where its dimensions live."""
        for kind in (EntityType.PRIMARY, EntityType.UNIQUE, EntityType.NATURAL):
            for m in self.models:
                e = m.entity(entity)
                if e is not None and e.type is kind:
                    return m
            if kind is EntityType.PRIMARY:
                for m in self.models:
                    if m.primary_entity == entity:
                        return m
        return None


# ----------------------------------------------------------------------------------------------- parsing

_REF_RE = re.compile(r"""^\s*ref\(\s*['"]([A-Za-z0-9_]+)['"]\s*\)\s*$""")
_JINJA_RE = re.compile(
    r"\{\{\s*(Dimension|TimeDimension|Entity|Metric)\(\s*'([^']+)'\s*(?:,\s*'?([^')]+?)'?\s*)?\)"
    r"(?:\.grain\('([a-z]+)'\))?\s*\}\}"
)


def jinja_filter_to_sql(text: str) -> str:
    """MetricFlow's `{{ Dimension('booking__is_instant') }}` filter syntax → our column names.

    Dimension('e__d') → e__d; TimeDimension('metric_time', 'month') → metric_time__month;
    Entity('listing') → listing. Metric(...) filters stay as they are and fail at compile time (0A000).
    """

    def repl(m: re.Match[str]) -> str:
        kind, name, arg, grain = m.group(1), m.group(2), m.group(3), m.group(4)
        if kind == "Metric":
            return m.group(0)
        g = grain or (arg.strip() if kind == "TimeDimension" and arg else None)
        return f"{name}__{g}" if g else name

    return _JINJA_RE.sub(repl, text)


def _filter_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        parts = [jinja_filter_to_sql(str(v)) for v in value]
        return " AND ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]
    return jinja_filter_to_sql(str(value))


def _relation(text: str) -> Relation:
    m = _REF_RE.match(text)
    if m:
        return Relation(name=m.group(1), is_ref=True)
    parts = [p.strip().strip('"`') for p in text.split(".")]
    if len(parts) == 1:
        return Relation(name=parts[0], is_ref=True)
    if len(parts) == 2:
        return Relation(name=parts[1], schema_name=parts[0])
    return Relation(name=parts[-1], schema_name=parts[-2], catalog=".".join(parts[:-2]))


def _input(value: Any) -> Any:
    """A metric input: a string or a mapping, filters translated from Jinja."""
    if isinstance(value, dict):
        d = dict(value)
        if "filter" in d:
            d["filter"] = _filter_text(d["filter"])
        if isinstance(d.get("offset_window"), dict):
            w = d["offset_window"]
            d["offset_window"] = f"{w.get('count')} {w.get('granularity')}"
        return with_line(d, value)
    return {"name": value}


class _Collector:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, file: str, line: int, fld: str, reason: str) -> None:
        self.problems.append(f"{file}:{line}: {fld}: {reason}")

    def pydantic(self, file: str, root: Any, err: ValidationError, prefix: str = "") -> None:
        for e in err.errors():
            loc = [
                p for p in e["loc"] if not (isinstance(p, str) and p.startswith(("function-", "str", "is-instance")))
            ]
            fld = prefix + ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
            self.add(file, line_of(root, loc), fld or "(document)", e["msg"])


def _our_model(file: str, doc: LineDict, c: _Collector) -> tuple[SemanticModel | None, list[Metric]]:
    try:
        mf = ModelFile.model_validate(doc)
    except ValidationError as e:
        c.pydantic(file, doc, e)
        return None, []
    model = SemanticModel(
        name=mf.name,
        sql_name=mf.sql_name,
        relation=_relation(mf.model),
        description=mf.description,
        label=mf.label,
        defaults=mf.defaults,
        primary_entity=mf.primary_entity,
        entities=mf.entities,
        dimensions=mf.dimensions,
        measures=mf.measures,
        source_file=file,
    )
    metrics: list[Metric] = []
    for i, mm in enumerate(mf.metrics):
        raw = mm.model_dump(exclude_none=True)
        for key in ("numerator", "denominator"):
            if isinstance(raw.get(key), str):
                raw[key] = {"name": raw[key]}
        raw["metrics"] = [{"name": v} if isinstance(v, str) else v for v in raw.get("metrics", ())]
        try:
            metrics.append(Metric.model_validate({**raw, "model": mf.name, "source_file": file}))
        except ValidationError as e:
            c.pydantic(file, doc, e, prefix=f"metrics[{i}].")
    return model, metrics


_DBT_IGNORED = ("config", "meta", "role", "validity_params", "tags")


def _dbt_entity(e: Any) -> Any:
    if not isinstance(e, dict):
        return e
    return with_line({k: v for k, v in e.items() if k not in _DBT_IGNORED}, e)


def _dbt_dimension(d: Any) -> Any:
    if not isinstance(d, dict):
        return d
    out = {k: v for k, v in d.items() if k != "type_params" and k not in _DBT_IGNORED}
    tp = d.get("type_params") or {}
    if isinstance(tp, dict) and tp.get("time_granularity"):
        g = GRAINS_BY_NAME.get(str(tp["time_granularity"]).lower())
        out["time_granularity"] = [x.value for x in grains_from(g)] if g else [tp["time_granularity"]]
    return with_line(out, d)


def _dbt_measure(m: Any) -> Any:
    if not isinstance(m, dict):
        return m
    out = {k: v for k, v in m.items() if k not in _DBT_IGNORED}
    if isinstance(out.get("agg"), str):
        agg = out["agg"].lower()
        out["agg"] = "avg" if agg == "average" else agg
    out["create_metric"] = bool(out.get("create_metric", False))
    return with_line(out, m)


def _dbt_model(file: str, doc: Any, c: _Collector) -> SemanticModel | None:
    if not isinstance(doc, dict):
        c.add(file, getattr(doc, "line", 0), "semantic_models", "expected a mapping")
        return None
    raw = {k: v for k, v in doc.items() if k not in ("node_relation", "model", "config", "meta")}
    rel: Relation | None = None
    nr = doc.get("node_relation")
    if isinstance(nr, dict):
        schema = nr.get("schema_name")
        if isinstance(schema, str) and schema.startswith("$"):
            schema = None  # MetricFlow's test placeholder: the backend's default schema
        rel = Relation(name=str(nr.get("alias")), schema_name=schema, catalog=nr.get("database"), is_ref=schema is None)
    elif isinstance(doc.get("model"), str):
        rel = _relation(doc["model"])
    if rel is None:
        c.add(file, getattr(doc, "line", 0), "node_relation", "a semantic model needs node_relation or model")
        return None
    raw["relation"] = rel
    raw["dimensions"] = [_dbt_dimension(d) for d in doc.get("dimensions") or ()]
    raw["measures"] = [_dbt_measure(m) for m in doc.get("measures") or ()]
    raw["entities"] = [_dbt_entity(e) for e in doc.get("entities") or ()]
    raw["source_file"] = file
    root = with_line(raw, doc)
    try:
        return SemanticModel.model_validate(root)
    except ValidationError as e:
        c.pydantic(file, root, e)
        return None


def _dbt_metric(file: str, doc: Any, c: _Collector) -> Metric | None:
    if not isinstance(doc, dict):
        c.add(file, getattr(doc, "line", 0), "metrics", "expected a mapping")
        return None
    raw: dict[str, Any] = {
        k: v for k, v in doc.items() if k not in ("type_params", "config", "meta", "time_granularity")
    }
    if "filter" in raw:
        raw["filter"] = _filter_text(raw["filter"])
    if isinstance(raw.get("type"), str):
        raw["type"] = raw["type"].lower()
    tp = doc.get("type_params") or {}
    if isinstance(tp, dict):
        meas = tp.get("measure")
        if isinstance(meas, dict):
            raw["measure"] = meas.get("name")
            if meas.get("filter") is not None:
                raw["measure_filter"] = _filter_text(meas["filter"])
            if meas.get("fill_nulls_with") is not None:
                raw["fill_nulls_with"] = meas["fill_nulls_with"]
            if meas.get("join_to_timespine"):
                raw["join_to_timespine"] = True
        elif meas is not None:
            raw["measure"] = meas
        for key in ("numerator", "denominator"):
            if key in tp:
                raw[key] = _input(tp[key])
        if "expr" in tp:
            raw["expr"] = tp["expr"]
        if "metrics" in tp:
            raw["metrics"] = [_input(x) for x in tp["metrics"] or ()]
        ctp = tp.get("cumulative_type_params") or {}
        for src in (tp, ctp):
            if isinstance(src, dict):
                for key in ("window", "grain_to_date", "period_agg"):
                    if src.get(key) is not None:
                        val = src[key]
                        if isinstance(val, dict):
                            val = f"{val.get('count')} {val.get('granularity')}"
                        raw[key] = val
        if "conversion_type_params" in tp:
            raw["conversion"] = dict(tp["conversion_type_params"] or {})
    raw["source_file"] = file
    root = with_line(raw, doc)
    if isinstance(doc, LineDict) and "type_params" in doc:
        for k in ("measure", "numerator", "denominator", "expr", "metrics", "window", "grain_to_date"):
            root.key_lines.setdefault(k, doc.key_lines["type_params"])
    try:
        return Metric.model_validate(root)
    except ValidationError as e:
        c.pydantic(file, root, e)
        return None


_IGNORED_TOP = {"project_configuration", "saved_queries", "saved_query", "version", "models", "sources", "exposures"}


def _load_file(path: Path, label: str, c: _Collector) -> tuple[list[SemanticModel], list[Metric], dict[str, int]]:
    models: list[SemanticModel] = []
    metrics: list[Metric] = []
    lines: dict[str, int] = {}
    try:
        docs = load_documents(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        c.add(label, (mark.line + 1) if mark else 0, "(yaml)", str(getattr(e, "problem", None) or e))
        return models, metrics, lines
    except (OSError, UnicodeDecodeError) as e:
        c.add(label, 0, "(file)", str(e))
        return models, metrics, lines
    for doc in docs:
        if not isinstance(doc, dict):
            c.add(label, getattr(doc, "line", 1), "(document)", "expected a mapping at the top level")
            continue
        keys = set(doc)
        if keys & {"semantic_models", "semantic_model", "metrics", "metric"} and "model" not in doc:
            for key in ("semantic_models", "semantic_model"):
                items = doc.get(key)
                for item in items if isinstance(items, list) else ([items] if items is not None else []):
                    model = _dbt_model(label, item, c)
                    if model:
                        models.append(model)
                        lines[f"model:{model.name}"] = getattr(item, "line", 0)
            for key in ("metrics", "metric"):
                items = doc.get(key)
                for item in items if isinstance(items, list) else ([items] if items is not None else []):
                    metric = _dbt_metric(label, item, c)
                    if metric:
                        metrics.append(metric)
                        lines[f"metric:{metric.name}"] = getattr(item, "line", 0)
            continue
        if keys <= _IGNORED_TOP or not isinstance(doc, LineDict):
            continue
        if not keys & {"model", "entities", "dimensions", "measures", "metrics"}:
            continue  # not a model (dbt_project.yml, profiles, …): other YAML may live beside the models
        model, ms = _our_model(label, doc, c)
        if model:
            models.append(model)
            lines[f"model:{model.name}"] = doc.line
            lines[f"ourformat:{model.name}"] = 1
            mlist = doc.get("metrics") or []
            for i, m in enumerate(ms):
                lines[f"metric:{m.name}"] = getattr(mlist[i], "line", doc.line) if i < len(mlist) else doc.line
        metrics.extend(ms)
    return models, metrics, lines


def _yaml_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for p in sorted(root.rglob("*")):
        hidden = any(part.startswith(".") for part in p.relative_to(root).parts)
        if p.suffix in (".yml", ".yaml") and p.is_file() and not hidden:
            yield p


def load_models(path: str | Path) -> SemanticModelSet:
    """Read and validate every model under `path` (a directory, scanned recursively, or one file)."""
    root = Path(path)
    c = _Collector()
    if not root.exists():
        raise ModelLoadError([f"{root}:0: (path): no such file or directory"])
    models: list[SemanticModel] = []
    metrics: list[Metric] = []
    lines: dict[str, int] = {}
    for f in _yaml_files(root):
        label = str(f.relative_to(root)) if root.is_dir() else str(f)
        ms, mets, ls = _load_file(f, label, c)
        models.extend(ms)
        metrics.extend(mets)
        lines.update({f"{k}@{label}": v for k, v in ls.items()})
        lines.update(ls)
    models, metrics = _with_created_metrics(models, metrics)
    validate(models, metrics, lines, c)
    if c.problems:
        raise ModelLoadError(c.problems)
    return SemanticModelSet(tuple(models), tuple(metrics))


def _with_created_metrics(
    models: list[SemanticModel], metrics: list[Metric]
) -> tuple[list[SemanticModel], list[Metric]]:
    """`create_metric: true` measures become simple metrics of the same name (unless one exists)."""
    names = {m.name for m in metrics}
    out = list(metrics)
    for model in models:
        for measure in model.measures:
            if measure.create_metric and measure.name not in names:
                out.append(
                    Metric(
                        name=measure.name,
                        sql_name=measure.sql_name,
                        type=MetricType.SIMPLE,
                        measure=measure.name,
                        description=measure.description,
                        label=measure.label,
                        format=measure.format,
                        model=model.name,
                        source_file=model.source_file,
                    )
                )
                names.add(measure.name)
    return models, out


# ----------------------------------------------------------------------------------------------- validation


def validate(models: list[SemanticModel], metrics: list[Metric], lines: dict[str, int], c: _Collector) -> None:
    def at_model(m: SemanticModel) -> tuple[str, int]:
        return m.source_file or "?", lines.get(f"model:{m.name}@{m.source_file}", lines.get(f"model:{m.name}", 0))

    def at_metric(m: Metric) -> tuple[str, int]:
        return m.source_file or "?", lines.get(f"metric:{m.name}@{m.source_file}", lines.get(f"metric:{m.name}", 0))

    seen_models: dict[str, SemanticModel] = {}
    measures: dict[str, SemanticModel] = {}
    for m in models:
        f, ln = at_model(m)
        if m.name in seen_models:
            c.add(f, ln, "name", f"duplicate semantic model {m.name!r} (also in {seen_models[m.name].source_file})")
        seen_models[m.name] = m
        elements: dict[str, str] = {}
        for kind, items in (("entity", m.entities), ("dimension", m.dimensions)):
            for it in items:
                if it.name in elements:
                    c.add(
                        f,
                        ln,
                        f"{kind}s.{it.name}",
                        f"name {it.name!r} is already {_article(elements[it.name])} of {m.name}",
                    )
                elements[it.name] = kind
        for ms in m.measures:
            if ms.name in measures:
                c.add(
                    f,
                    ln,
                    f"measures.{ms.name}",
                    f"duplicate measure {ms.name!r} (also in model {measures[ms.name].name})",
                )
            measures[ms.name] = m
            if ms.name in elements:
                c.add(
                    f,
                    ln,
                    f"measures.{ms.name}",
                    f"name {ms.name!r} is already {_article(elements[ms.name])} of {m.name}",
                )
            atd = m.agg_time_dimension_of(ms)
            if ms.agg_time_dimension is not None:
                _check_time_dim(m, ms.agg_time_dimension, f, ln, f"measures.{ms.name}.agg_time_dimension", c)
            elif atd is None and any(d.type is DimensionType.TIME for d in m.dimensions):
                pass  # no default: metric_time is unavailable for this measure (MetricFlow errors only on use)
        if m.defaults.agg_time_dimension is not None:
            _check_time_dim(m, m.defaults.agg_time_dimension, f, ln, "defaults.agg_time_dimension", c)
        if m.primary is not None and sum(1 for e in m.entities if e.type is EntityType.PRIMARY) > 1:
            c.add(f, ln, "entities", "a model has at most one primary entity")
    # Joins (our format only: dbt projects routinely declare foreign entities without a target model).
    joinable = {e.name for m in models for e in m.entities if e.type in (EntityType.PRIMARY, EntityType.UNIQUE)}
    joinable |= {m.primary_entity for m in models if m.primary_entity}
    for m in models:
        f, ln = at_model(m)
        if f"ourformat:{m.name}" not in lines and f"ourformat:{m.name}@{f}" not in lines:
            continue
        for e in m.entities:
            if e.type is EntityType.FOREIGN and e.name not in joinable:
                c.add(
                    f,
                    ln,
                    f"entities.{e.name}",
                    f"foreign entity {e.name!r} is not the primary or unique entity of any model",
                )

    metric_names: dict[str, Metric] = {}
    for mt in metrics:
        f, ln = at_metric(mt)
        if mt.name in metric_names:
            c.add(f, ln, "name", f"duplicate metric {mt.name!r} (also in {metric_names[mt.name].source_file})")
        metric_names[mt.name] = mt
        if mt.model and mt.model in seen_models:
            owner = seen_models[mt.model]
            if owner.entity(mt.name) or owner.dimension(mt.name):
                c.add(
                    f, ln, f"metrics.{mt.name}", f"metric name {mt.name!r} collides with a column of model {owner.name}"
                )
    for mt in metrics:
        f, ln = at_metric(mt)
        if mt.type in (MetricType.SIMPLE, MetricType.CUMULATIVE):
            if not mt.measure:
                c.add(f, ln, f"{mt.name}.measure", f"a {mt.type.value} metric needs a measure")
            elif mt.measure not in measures:
                c.add(f, ln, f"{mt.name}.measure", f"unknown measure {mt.measure!r}")
            elif mt.type is MetricType.CUMULATIVE:
                owner = measures[mt.measure]
                meas = owner.measure(mt.measure)
                if meas is not None and owner.agg_time_dimension_of(meas) is None:
                    c.add(f, ln, f"{mt.name}.measure", f"measure {mt.measure!r} has no agg_time_dimension")
        elif mt.type is MetricType.RATIO and (mt.numerator is None or mt.denominator is None):
            c.add(f, ln, mt.name, "a ratio metric needs numerator and denominator")
        elif mt.type is MetricType.DERIVED and (not mt.expr or not mt.metrics):
            c.add(f, ln, mt.name, "a derived metric needs expr and metrics")
        for name in mt.inputs():
            if name not in metric_names:
                c.add(f, ln, f"{mt.name}.metrics", f"unknown metric {name!r}")
        if mt.grain_to_date is not None and mt.window is not None:
            c.add(f, ln, f"{mt.name}.window", "window and grain_to_date are exclusive")
    _check_cycles(metrics, metric_names, at_metric, c)


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _check_time_dim(m: SemanticModel, name: str, f: str, ln: int, fld: str, c: _Collector) -> None:
    d: Dimension | None = m.dimension(name)
    if d is None:
        c.add(f, ln, fld, f"{name!r} is not a dimension of model {m.name}")
    elif d.type is not DimensionType.TIME:
        c.add(f, ln, fld, f"{name!r} is not a time dimension")


def _check_cycles(metrics: Iterable[Metric], by_name: dict[str, Metric], at: Any, c: _Collector) -> None:
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        st = state.get(name, 0)
        if st == 2 or name not in by_name:
            return
        if st == 1:
            cyc = [*path[path.index(name) :], name]
            f, ln = at(by_name[name])
            c.add(f, ln, f"{name}.metrics", "cyclic metric definition: " + " -> ".join(cyc))
            return
        state[name] = 1
        for dep in by_name[name].inputs():
            visit(dep, [*path, name])
        state[name] = 2

    for mt in metrics:
        visit(mt.name, [])


def metric_inputs(metric: Metric) -> tuple[MetricInput, ...]:
    if metric.type is MetricType.RATIO and metric.numerator and metric.denominator:
        return (metric.numerator, metric.denominator)
    return metric.metrics


__all__ = ["ModelLoadError", "SemanticModelSet", "jinja_filter_to_sql", "load_models"]
