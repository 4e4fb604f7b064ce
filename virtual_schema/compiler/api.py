"""The compiler's contract with the gateway.

The gateway hands over one statement's SQL text (PostgreSQL syntax, `$n` placeholders) and gets
back SQL in the backend's dialect plus the result's shape, so Describe can answer without running
anything. Results are cached per (SQL text, parameter types) and per statement shape (the same text with
other literals: compiler/shape.py) in each layer, i.e. per schema version and dialect.
"""

from __future__ import annotations

from dataclasses import dataclass

from virtual_schema.pgtypes import PgColumnType
from virtual_schema.schema import ResultColumn


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    sql: str  # dialect SQL; parameters: $1 … for duckdb, positional ? for databricks (see param_order)
    columns: tuple[ResultColumn, ...]
    param_types: tuple[PgColumnType, ...]  # inferred where the client sent 0 (unspecified)
    empty: bool = False  # the answer is known to have no rows (LIMIT 0, WHERE false): skip the warehouse
    # For dialects with `?` markers (databricks): for each marker in order, the 0-based index of the client
    # parameter to bind there (a `$n` may repeat or come out of order). Empty for `$n` dialects (duckdb).
    param_order: tuple[int, ...] = ()
