"""MetricFlow as the oracle: the reference answers the semantic compiler is compared against.

MetricFlow (dbt's semantic engine, PyPI `metricflow`) runs in-process here, without dbt: our YAML
models are translated into MetricFlow's YAML format (`semantic_model:` / `metric:` documents),
parsed with `metricflow_semantic_interfaces`, and a `MetricFlowEngine` runs over a DuckDB
connection through the small `DuckDBSqlClient` below. MetricFlow needs a physical time spine
table; the oracle creates one (`mf_oracle.mf_time_spine`) in the connection it is given.

API:
    oracle = MetricFlowOracle.from_models_dir(con, Path("semantic-models"), schema="main")
    oracle.query(MfRequest(metrics=("revenue",), group_by=("metric_time__month",))) -> MfResult
    oracle.explain(request) -> str  (the SQL MetricFlow would run)
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
import yaml
from metricflow.data_table.mf_table import MetricFlowDataTable
from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
from metricflow.protocols.sql_client import SqlEngine
from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
from metricflow.sql.render.sql_plan_renderer import SqlPlanRenderer
from metricflow_semantic_interfaces.implementations.semantic_manifest import PydanticSemanticManifest
from metricflow_semantic_interfaces.parsing.dir_to_model import (
    parse_yaml_files_to_validation_ready_semantic_manifest,
)
from metricflow_semantic_interfaces.parsing.objects import YamlConfigFile
from metricflow_semantic_interfaces.validations.semantic_manifest_validator import SemanticManifestValidator
from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup
from metricflow_semantics.sql.sql_bind_parameters import SqlBindParameterSet
from sqlglot import exp

from tests.semantic.cases import Case, MfRequest

TIME_SPINE_SCHEMA = "mf_oracle"
TIME_SPINE_TABLE = "mf_time_spine"


# --------------------------------------------------------------------------------------------------
# SqlClient over a DuckDB connection
# --------------------------------------------------------------------------------------------------


class DuckDBSqlClient:
    """MetricFlow's `SqlClient` protocol implemented over one duckdb connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._renderer = DuckDbSqlPlanRenderer()

    @property
    def sql_engine_type(self) -> SqlEngine:
        return SqlEngine.DUCKDB

    @property
    def sql_plan_renderer(self) -> SqlPlanRenderer:
        return self._renderer

    def _run(self, stmt: str, params: SqlBindParameterSet) -> duckdb.DuckDBPyConnection:
        bind = dict(params.param_dict)
        return self._con.execute(stmt, bind) if bind else self._con.execute(stmt)

    def query(
        self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet = SqlBindParameterSet()
    ) -> MetricFlowDataTable:
        cur = self._run(stmt, sql_bind_parameter_set)
        names = [d[0] for d in cur.description or ()]
        rows = [tuple(_mf_cell(v) for v in row) for row in cur.fetchall()]
        return MetricFlowDataTable.create_from_rows(column_names=names, rows=rows)

    def execute(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet = SqlBindParameterSet()) -> None:
        self._run(stmt, sql_bind_parameter_set)

    def dry_run(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet = SqlBindParameterSet()) -> None:
        self._run("EXPLAIN " + stmt, sql_bind_parameter_set)

    def close(self) -> None:
        """The connection belongs to the caller."""

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return "$" + bind_parameter_key


def _mf_cell(v: Any) -> Any:
    if isinstance(v, datetime.datetime) and v.tzinfo is not None:
        return v.replace(tzinfo=None)
    return v


# --------------------------------------------------------------------------------------------------
# Our model format -> MetricFlow's YAML format
# --------------------------------------------------------------------------------------------------

_AGG = {"avg": "average"}
_GRAINS = ("nanosecond", "microsecond", "millisecond", "second", "minute", "hour", "day", "week", "month", "quarter",
           "year")


def _relation(model: str, schema: str) -> dict[str, str]:
    m = re.fullmatch(r"\s*ref\(\s*['\"]([^'\"]+)['\"]\s*\)\s*", model)
    if m:
        return {"schema_name": schema, "alias": m.group(1)}
    parts = model.split(".")
    if len(parts) == 3:
        return {"database": parts[0], "schema_name": parts[1], "alias": parts[2]}
    if len(parts) == 2:
        return {"schema_name": parts[0], "alias": parts[1]}
    return {"schema_name": schema, "alias": parts[0]}


def _primary_entity(doc: Mapping[str, Any]) -> str | None:
    for e in doc.get("entities") or ():
        if e.get("type") in ("primary", "unique"):
            return str(e["name"])
    return None


def _filter_to_jinja(sql: str, doc: Mapping[str, Any]) -> str:
    """Rewrite a filter over a model's own column names into MetricFlow's `{{ Dimension(...) }}` form."""
    entity = _primary_entity(doc)
    dims = {d["name"]: d for d in doc.get("dimensions") or ()}
    entities = {e["name"] for e in doc.get("entities") or ()}
    tree = sqlglot.parse_one(sql, read="postgres")

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table:
            name = node.name
            if name in dims:
                ref = f"{entity}__{name}" if entity else name
                if dims[name].get("type") == "time":
                    grain = _min_grain(dims[name])
                    return exp.Var(this=f"{{{{ TimeDimension('{ref}', '{grain}') }}}}")
                return exp.Var(this=f"{{{{ Dimension('{ref}') }}}}")
            if name in entities:
                return exp.Var(this=f"{{{{ Entity('{name}') }}}}")
            if "__" in name:  # a dimension of a joined model, already in MetricFlow's entity-path form
                return exp.Var(this=f"{{{{ Dimension('{name}') }}}}")
        return node

    return tree.transform(rewrite).sql(dialect="duckdb")


def _min_grain(dim: Mapping[str, Any]) -> str:
    g = dim.get("time_granularity") or ["day"]
    if isinstance(g, str):
        return g
    return str(min(g, key=lambda x: _GRAINS.index(x) if x in _GRAINS else -1))


def _mf_metric(metric: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": metric["name"], "type": metric["type"]}
    for key in ("description", "label"):
        if metric.get(key):
            out[key] = metric[key]
    kind = metric["type"]
    tp: dict[str, Any] = {}
    if kind == "simple":
        tp["measure"] = {"name": metric["measure"]}
    elif kind == "ratio":
        tp["numerator"] = {"name": metric["numerator"]}
        tp["denominator"] = {"name": metric["denominator"]}
    elif kind == "derived":
        tp["expr"] = metric["expr"]
        tp["metrics"] = [m if isinstance(m, dict) else {"name": m} for m in metric["metrics"]]
    elif kind == "cumulative":
        tp["measure"] = {"name": metric["measure"]}
        ctp: dict[str, Any] = {}
        if metric.get("window"):
            ctp["window"] = metric["window"]
        if metric.get("grain_to_date"):
            ctp["grain_to_date"] = metric["grain_to_date"]
        # Our default for coarser grains is the end-of-period value (issue 3); MetricFlow's is `first`.
        ctp["period_agg"] = metric.get("period_agg", "last")
        tp["cumulative_type_params"] = ctp
    else:
        raise ValueError(f"unknown metric type {kind}")
    out["type_params"] = tp
    if metric.get("filter"):
        out["filter"] = _filter_to_jinja(str(metric["filter"]), doc)
    return out


def mf_documents(doc: Mapping[str, Any], *, schema: str) -> list[dict[str, Any]]:
    """One of our model documents as MetricFlow documents (a semantic_model + its metrics)."""
    sm: dict[str, Any] = {"name": doc["name"], "node_relation": _relation(str(doc["model"]), schema)}
    if doc.get("description"):
        sm["description"] = doc["description"]
    if doc.get("label"):
        sm["label"] = doc["label"]
    defaults = doc.get("defaults") or {}
    if defaults.get("agg_time_dimension"):
        sm["defaults"] = {"agg_time_dimension": defaults["agg_time_dimension"]}
    sm["entities"] = [
        {k: v for k, v in e.items() if k in ("name", "type", "expr", "label")}
        for e in doc.get("entities") or ()
    ]
    dims = []
    for d in doc.get("dimensions") or ():
        md: dict[str, Any] = {"name": d["name"], "type": "time" if d["type"] == "time" else "categorical"}
        for k in ("expr", "description", "label"):
            if d.get(k) is not None:
                md[k] = d[k]
        if d["type"] == "time":
            md["type_params"] = {"time_granularity": _min_grain(d)}
        dims.append(md)
    sm["dimensions"] = dims
    measures = []
    for m in doc.get("measures") or ():
        mm: dict[str, Any] = {"name": m["name"], "agg": _AGG.get(m["agg"], m["agg"])}
        for k in ("expr", "description", "label", "create_metric", "agg_time_dimension"):
            if m.get(k) is not None:
                mm[k] = m[k]
        if "expr" in mm:
            mm["expr"] = str(mm["expr"])
        measures.append(mm)
    sm["measures"] = measures
    docs: list[dict[str, Any]] = [{"semantic_model": sm}]
    docs += [{"metric": _mf_metric(metric, doc)} for metric in doc.get("metrics") or ()]
    return docs


def _project_configuration() -> dict[str, Any]:
    return {
        "project_configuration": {
            "time_spine_table_configurations": [
                {"location": f"{TIME_SPINE_SCHEMA}.{TIME_SPINE_TABLE}", "column_name": "ds", "grain": "day"}
            ],
            "time_spines": [
                {
                    "node_relation": {"schema_name": TIME_SPINE_SCHEMA, "alias": TIME_SPINE_TABLE},
                    "primary_column": {"name": "ds", "time_granularity": "day"},
                }
            ],
        }
    }


def mf_yaml_files(model_docs: Iterable[Mapping[str, Any]], *, schema: str) -> list[YamlConfigFile]:
    files = [YamlConfigFile(filepath="project_configuration.yaml", contents=yaml.safe_dump(_project_configuration()))]
    for doc in model_docs:
        text = yaml.safe_dump_all(mf_documents(doc, schema=schema), sort_keys=False, explicit_start=True)
        files.append(YamlConfigFile(filepath=f"{doc['name']}.yaml", contents=text))
    return files


def read_model_docs(models_dir: Path) -> list[dict[str, Any]]:
    """Our model files under `models_dir` (recursively), as plain dicts."""
    docs = []
    for path in sorted(models_dir.rglob("*.y*ml")):
        with open(path) as f:
            doc = yaml.safe_load(f)
        if isinstance(doc, dict) and "name" in doc and "model" in doc:
            docs.append(doc)
    return docs


def build_manifest(files: list[YamlConfigFile]) -> PydanticSemanticManifest:
    result = parse_yaml_files_to_validation_ready_semantic_manifest(files, apply_transformations=True)
    SemanticManifestValidator[PydanticSemanticManifest]().checked_validations(result.semantic_manifest)
    return result.semantic_manifest


def create_time_spine(con: duckdb.DuckDBPyConnection, start: str = "2015-01-01", end: str = "2030-12-31") -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {TIME_SPINE_SCHEMA}")
    con.execute(
        f"CREATE OR REPLACE TABLE {TIME_SPINE_SCHEMA}.{TIME_SPINE_TABLE} AS "
        f"SELECT d::DATE AS ds FROM range(DATE '{start}', DATE '{end}' + 1, INTERVAL 1 DAY) t(d)"
    )


# --------------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MfResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    sql: str = ""


class MetricFlowOracle:
    def __init__(
        self, con: duckdb.DuckDBPyConnection, manifest: PydanticSemanticManifest, *, spine_end: str = "2030-12-31"
    ) -> None:
        """`spine_end` is the last day of MetricFlow's time spine: cumulative metrics report up to it."""
        self.con = con
        self.manifest = manifest
        create_time_spine(con, end=spine_end)
        self.engine = MetricFlowEngine(
            semantic_manifest_lookup=SemanticManifestLookup(manifest), sql_client=DuckDBSqlClient(con)
        )

    @classmethod
    def from_models_dir(
        cls, con: duckdb.DuckDBPyConnection, models_dir: Path, *, schema: str = "main", spine_end: str = "2030-12-31"
    ) -> MetricFlowOracle:
        return cls(con, build_manifest(mf_yaml_files(read_model_docs(models_dir), schema=schema)), spine_end=spine_end)

    @classmethod
    def from_mf_dir(
        cls, con: duckdb.DuckDBPyConnection, mf_dir: Path, template_mapping: Mapping[str, str] | None = None
    ) -> MetricFlowOracle:
        """A directory already in MetricFlow's format (e.g. MetricFlow's own simple_manifest)."""
        from string import Template

        files = [
            YamlConfigFile(filepath=str(p), contents=Template(p.read_text()).substitute(template_mapping or {}))
            for p in sorted(mf_dir.rglob("*.yaml"))
        ]
        return cls(con, build_manifest(files))

    def _request(self, req: MfRequest) -> MetricFlowQueryRequest:
        return MetricFlowQueryRequest.create(
            metric_names=list(req.metrics),
            group_by_names=list(req.group_by),
            where_constraints=list(req.where) or None,
            order_by_names=list(req.order_by) or None,
            limit=req.limit,
        )

    def explain(self, req: MfRequest) -> str:
        return str(self.engine.explain(self._request(req)).sql_statement.sql)

    def query(self, req: MfRequest) -> MfResult:
        result = self.engine.query(self._request(req))
        table = result.result_df
        assert table is not None
        return MfResult(columns=tuple(table.column_names), rows=[tuple(r) for r in table.rows], sql=result.sql)


def normalize_value(v: Any) -> Any:
    """Comparable form of a cell: numbers as float, dates as datetimes at midnight."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int | float | decimal.Decimal):
        return float(v)
    if isinstance(v, datetime.datetime):
        return v.replace(tzinfo=None)
    if isinstance(v, datetime.date):
        return datetime.datetime(v.year, v.month, v.day)
    return v


def rows_equal(
    a: Sequence[Sequence[Any]], b: Sequence[Sequence[Any]], *, rel: float = 1e-9, abs_tol: float = 1e-6
) -> tuple[bool, str]:
    """Compare two result sets as sorted multisets of rows, numbers within a tolerance."""
    na = sorted((tuple(normalize_value(v) for v in r) for r in a), key=_sort_key)
    nb = sorted((tuple(normalize_value(v) for v in r) for r in b), key=_sort_key)
    if len(na) != len(nb):
        return False, f"row counts differ: {len(na)} vs {len(nb)}"
    for i, (ra, rb) in enumerate(zip(na, nb, strict=True)):
        if len(ra) != len(rb):
            return False, f"row {i}: widths differ: {ra} vs {rb}"
        for x, y in zip(ra, rb, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if abs(x - y) > max(abs_tol, rel * max(abs(x), abs(y))):
                    return False, f"row {i}: {ra} vs {rb}"
            elif x != y:
                return False, f"row {i}: {ra} vs {rb}"
    return True, ""


def _sort_key(row: tuple[Any, ...]) -> tuple[tuple[int, str], ...]:
    out = []
    for v in row:
        if v is None:
            out.append((0, ""))
        elif isinstance(v, float):
            out.append((1, f"{round(v, 4):+025.4f}"))
        else:
            out.append((2, str(v)))
    return tuple(out)


def expected_rows(case: Case, oracle: MetricFlowOracle) -> list[tuple[Any, ...]]:
    """The right answer to a differential case, computed by MetricFlow (or plain SQL where the case says)."""
    con = oracle.con
    if case.plain is not None:
        return [tuple(r) for r in con.execute(case.plain).fetchall()]
    assert case.mf is not None, case.name
    if case.outer is not None:
        return [tuple(r) for r in con.execute(f"WITH mf AS ({oracle.explain(case.mf)}) {case.outer}").fetchall()]
    result = oracle.query(case.mf)
    order = [result.columns.index(c) for c in (*case.mf.group_by, *case.mf.metrics)]
    return [tuple(row[i] for i in order) for row in result.rows]
