"""What a client test connects to: the gateway, or a real PostgreSQL 15 holding equivalent tables.

Every client test takes a `target`; the matrix runs each one against PostgreSQL (the reference: proves the
harness asks real questions and that its assertions hold for PostgreSQL) and against the gateway.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from virtual_schema.pgtypes import TYPES_BY_OID
from virtual_schema.schema import ColumnKind, VirtualColumn, VirtualSchema, VirtualTable


class Endpoint(Protocol):
    host: str
    port: int

    def dsn(self, **kw: str) -> str: ...

    def url(self, user: str = "demo", password: str = "demo", db: str = "semantic") -> str: ...


_NUMERIC = {"int2", "int4", "int8", "numeric", "float4", "float8"}
_TEXT = {"text", "varchar"}  # not bpchar: its padding makes text-typed parameters miss


@dataclass(frozen=True)
class MetricQuery:
    """One metric grouped and filtered by one categorical dimension: the query every client must run."""

    table: str
    dimension: str
    measure: str

    def sql(self, placeholder: str) -> str:
        return (f'SELECT "{self.dimension}", MEASURE("{self.measure}") AS m FROM "{self.table}" '
                f'WHERE "{self.dimension}" = {placeholder} GROUP BY "{self.dimension}"')

    def all_sql(self) -> str:
        return (f'SELECT "{self.dimension}", MEASURE("{self.measure}") AS m FROM "{self.table}" '
                f'GROUP BY "{self.dimension}" ORDER BY "{self.dimension}"')


@dataclass(frozen=True)
class Target:
    name: str  # "postgres" | "gateway"
    endpoint: Endpoint
    schema: VirtualSchema  # the relations this target must expose
    database: str = "semantic"

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def port(self) -> int:
        return self.endpoint.port

    def dsn(self, **kw: str) -> str:
        return self.endpoint.dsn(**kw)

    def url(self) -> str:
        return self.endpoint.url()

    @property
    def public_tables(self) -> list[VirtualTable]:
        return [t for t in self.schema.tables if t.schema == "public"]

    def showcase(self) -> VirtualTable:
        """The table the tests describe in detail: one with a primary key and a foreign key (the fewest
        columns among those, to keep its scans cheap)."""
        with_pk = [t for t in self.public_tables if t.primary_key] or self.public_tables
        return min(with_pk, key=lambda t: (not t.foreign_keys, len(t.columns), t.name))

    def scan_columns(self) -> list[VirtualColumn]:
        """The showcase's entities and dimensions: selecting metrics too would make the gateway compute every
        metric (cumulative ones over a time spine) for each row, which costs seconds on the demo data."""
        return [c for c in self.showcase().columns
                if c.kind in (ColumnKind.ENTITY, ColumnKind.DIMENSION, ColumnKind.TIME_DIMENSION)]

    def scan_sql(self, limit: int = 20) -> str:
        """A bounded, ordered read of the showcase's non-metric columns (one row per primary-key value)."""
        t = self.showcase()
        cols = ", ".join(f'"{c.name}"' for c in self.scan_columns())
        pk = t.primary_key[0]
        pk_col = t.column(pk)
        where = f' WHERE "{pk}" < {limit}' if pk_col is not None and _type(pk_col) in _NUMERIC else ""
        return f'SELECT {cols} FROM "{t.name}"{where} ORDER BY "{pk}" LIMIT {limit}'

    def metric(self) -> MetricQuery:
        for t in sorted(self.public_tables, key=lambda t: (len(t.columns), t.name)):
            # a model's own dimension (no join: `<entity>__<dimension>` columns come from other models)
            dims = [c for c in t.columns if c.kind is ColumnKind.DIMENSION and _type(c) in _TEXT and "__" not in c.name]
            measures = [c for c in t.columns if c.kind in (ColumnKind.METRIC, ColumnKind.MEASURE)
                        and _type(c) in _NUMERIC]
            if dims and measures:
                return MetricQuery(t.name, dims[0].name, measures[0].name)
        raise AssertionError("no table with a text dimension and a numeric metric")


def nullable(table: VirtualTable, column: VirtualColumn) -> bool:
    """What PostgreSQL reports: a primary-key column is NOT NULL whatever the model says."""
    return column.nullable and column.name not in table.primary_key


def _type(c: VirtualColumn) -> str:
    return TYPES_BY_OID[c.type.oid].name


def served_schema(models: Path, duckdb_path: Path) -> VirtualSchema:
    """The virtual schema the gateway builds from these models over this DuckDB file (same code path)."""
    from gateway.backends.duckdb import DuckDBBackend
    from virtual_schema.loader import load_models
    from virtual_schema.semantic_layer import build_semantic_layer

    async def build() -> VirtualSchema:
        backend = DuckDBBackend(duckdb_path, threads=1)
        try:
            loaded = load_models(models)
            physical = {r: await backend.table_schema(r) for r in sorted(loaded.relations())}
            return build_semantic_layer(loaded, physical, backend.dialect, version=1).schema
        finally:
            await backend.close()

    return asyncio.run(build())
