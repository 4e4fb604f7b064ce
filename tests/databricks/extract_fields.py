"""EXTRACT / date_part fields: PostgreSQL's answer is the reference, Spark runs the Databricks rendering.

One statement per (field, input kind, call form) over a small VALUES table of dates and timestamps
chosen around week/ISO-year boundaries, leap days and every weekday. The pytest side runs the
PostgreSQL text on PostgreSQL 15; the driver runs the same statement rendered by the compiler's
Databricks dialect on Spark. Both answer (i, value) rows.
"""

from __future__ import annotations

import decimal
from typing import Any

import sqlglot

from virtual_schema.compiler.dialect import BiPostgres, normalize, target_dialect

DAYS = ("2024-01-01", "2024-02-29", "2024-03-03", "2024-12-29", "2024-12-30", "2024-12-31", "2021-01-01",
        "2021-01-03", "2020-12-31", "2023-01-01", "2022-01-02", "2026-11-21", "2026-11-22", "2026-11-23",
        "2026-11-26", "2000-06-15", "2001-01-01", "1999-12-31")
TIME_OF_DAY = "13:45:12.345678"

# every field the compiler renders for Databricks; second-and-finer fields exist only for timestamps
DATE_FIELDS = ("dow", "isodow", "doy", "week", "isoyear", "quarter", "year", "month", "day", "epoch",
               "decade", "century", "millennium")
TIME_FIELDS = ("hour", "minute", "second", "millisecond", "microsecond", "milliseconds", "microseconds")


def _values(kind: str) -> str:
    if kind == "date":
        rows = [f"({i}, DATE '{d}')" for i, d in enumerate(DAYS)]
    else:
        rows = [f"({i}, TIMESTAMP '{d} {TIME_OF_DAY}')" for i, d in enumerate(DAYS)]
    return ", ".join(rows)


def statements() -> dict[str, str]:
    """name → PostgreSQL statement answering (i, value)."""
    out: dict[str, str] = {}
    for kind, fields in (("timestamp", DATE_FIELDS + TIME_FIELDS), ("date", DATE_FIELDS)):
        for field in fields:
            for form in ("extract", "date_part"):
                call = f"EXTRACT({field} FROM x)" if form == "extract" else f"date_part('{field}', x)"
                out[f"{form}({field}, {kind})"] = f"SELECT i, {call} AS v FROM (VALUES {_values(kind)}) AS t(i, x)"
    return out


def databricks_sql(pg_sql: str) -> str:
    """The statement as the compiler renders it for Databricks (read as BI PostgreSQL, normalized)."""
    tree = normalize(sqlglot.parse_one(pg_sql, read=BiPostgres))
    return tree.sql(dialect=target_dialect("databricks"))


def same_number(a: Any, b: Any) -> bool:
    """Exact numeric equality across int / Decimal / float spellings (12345.678000 == 12345.678)."""
    if a is None or b is None:
        return a is b
    return bool(decimal.Decimal(str(a)) == decimal.Decimal(str(b)))
