"""EXTRACT as PostgreSQL 14+ answers it: numeric, with the scale of the field; date_part() stays float8.

DuckDB's EXTRACT returns bigint (SECOND without its fraction) and sqlglot parses date_part() into the same
Extract node. PostgreSQL 15 returns numeric from EXTRACT: SECOND with 6 decimals (12.345678), MILLISECONDS with
3, EPOCH of a timestamp, time or interval with 6 (of a date with none), JULIAN of a timestamp with 20, every other
field a whole number (2024); date_part() returns double precision. `pg_extract` rewrites one Extract into a cast
of an exact value (microseconds scaled by a decimal literal, which DuckDB and Spark multiply exactly) to
DECIMAL(p, scale) or DOUBLE, so the announced type, the digits and the arithmetic over it (numeric, never
integer division) are PostgreSQL's. Both the catalog engine and the semantic compiler use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres

from virtual_schema.errors import FEATURE_NOT_SUPPORTED, PgError

DATE_PART = "pg_date_part"  # meta flag of an Extract written date_part('field', x): float8, not numeric
_DONE = "pg_extract"  # meta flag of the Extract nodes pg_extract builds: already PostgreSQL's
# meta flag of a DECIMAL(p, s) that PostgreSQL announces as plain numeric (typmod -1): its scale is the value's,
# as numeric_out prints it, but the column is not declared numeric(p, s) (EXTRACT's result, numeric arithmetic)
UNCONSTRAINED = "pg_numeric_unconstrained"


def unconstrained(precision: int, scale_: int) -> exp.DataType:
    """DECIMAL(precision, scale) in the warehouse, numeric with no typmod in RowDescription."""
    dt = exp.DataType.build(f"DECIMAL({precision}, {scale_})")
    dt.meta[UNCONSTRAINED] = True
    return dt


def is_unconstrained(dt: exp.DataType | None) -> bool:
    return dt is not None and bool(dt._meta) and bool(dt.meta.get(UNCONSTRAINED))

# PostgreSQL's spellings of the fields whose scale or value differs from a whole number, → one name
_FIELDS = {
    "SECOND": "SECOND", "SECONDS": "SECOND", "SEC": "SECOND", "SECS": "SECOND", "S": "SECOND",
    "MILLISECOND": "MILLISECOND", "MILLISECONDS": "MILLISECOND", "MS": "MILLISECOND", "MSEC": "MILLISECOND",
    "MSECS": "MILLISECOND", "MSECOND": "MILLISECOND", "MSECONDS": "MILLISECOND",
    "EPOCH": "EPOCH", "JULIAN": "JULIAN", "J": "JULIAN",
}


def field_of(node: exp.Extract) -> str:
    """The field an Extract names, upper case, its fractional spellings made canonical."""
    unit = node.this
    name = unit.name.upper() if isinstance(unit, (exp.Var, exp.Literal, exp.Identifier, exp.Column)) else ""
    return _FIELDS.get(name, name)


def scale(field: str, of_date: bool) -> int:
    """The scale of PostgreSQL's numeric EXTRACT(field FROM x) (extract_date / timestamp_part_common)."""
    if field == "SECOND":
        return 6
    if field == "MILLISECOND":
        return 3
    if field == "EPOCH":
        return 0 if of_date else 6
    if field == "JULIAN":
        return 0 if of_date else 20
    return 0


_TIME_FIELDS = frozenset({"HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND", "MICROSECONDS", "TIMEZONE",
                          "TIMEZONE_HOUR", "TIMEZONE_MINUTE"})


def check_date_field(field: str) -> None:
    """EXTRACT of a time field from a date is 0A000 in PostgreSQL (date_part() casts the date and answers 0)."""
    if field in _TIME_FIELDS:
        raise PgError(FEATURE_NOT_SUPPORTED, f'unit "{field.lower()}" not supported for type date')


def _micros(node: exp.Extract, unit: str) -> exp.Expression:
    """Seconds (with their fraction) of x in `unit`s, exactly: EXTRACT(MICROSECOND) is seconds times 1e6 there."""
    micro = exp.Extract(this=exp.var("MICROSECOND"), expression=node.expression.copy())
    micro.meta[_DONE] = True
    factor = "0.000001" if unit == "SECOND" else "0.001"
    return exp.Mul(this=micro, expression=exp.Literal.number(factor))


def pg_extract(node: exp.Extract, of_date: bool) -> exp.Expression:
    """The Extract as PostgreSQL types it: CAST(<value> AS DECIMAL(p, scale)), or AS DOUBLE for date_part()."""
    field = field_of(node)
    value: exp.Expression
    if field in ("SECOND", "MILLISECOND"):
        value = _micros(node, field)
    else:
        value = exp.Extract(this=exp.var(field) if field in ("EPOCH", "JULIAN") else node.this.copy(),
                            expression=node.expression.copy())
        value.meta[_DONE] = True
    if node.meta.get(DATE_PART):
        return exp.Cast(this=value, to=exp.DataType.build("DOUBLE"))
    s = scale(field, of_date)
    if field == "JULIAN" and s > 10:  # a double day fraction: its 10 decimals are exact, the rest binary noise
        value = exp.Cast(this=value, to=exp.DataType.build("DECIMAL(38, 10)"))
    return exp.Cast(this=value, to=unconstrained(38 if s > 10 else 18, s))


def rewrite_extracts(tree: exp.Expression, is_date: Callable[[exp.Expression], bool]) -> None:
    """Every EXTRACT / date_part() of `tree` (not yet rewritten) as pg_extract gives it, innermost first;
    `is_date` says whether an argument is a date (EPOCH of a date has no fraction, its time fields are 0A000)."""
    for node in reversed(list(tree.find_all(exp.Extract))):
        if node.meta.get(_DONE):
            continue
        of_date = is_date(node.expression)
        if of_date and not node.meta.get(DATE_PART):
            check_date_field(field_of(node))
        new: exp.Expr = pg_extract(node, of_date)
        if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":  # an unaliased output column
            new = exp.alias_(new, exp.to_identifier("date_part" if node.meta.get(DATE_PART) else "extract",
                                                    quoted=True))
        node.replace(new)


def _date_part(parser: Any) -> exp.Expression:
    node: exp.Expression = Postgres.Parser.FUNCTION_PARSERS["DATE_PART"](parser)
    if isinstance(node, exp.Extract):
        node.meta[DATE_PART] = True
    return node


class ExtractPostgres(Postgres):
    """PostgreSQL whose date_part() calls stay distinguishable from EXTRACT after parsing."""

    # to_char patterns sqlglot's Postgres lacks (it would copy "Mon" into the strftime format as text)
    TIME_MAPPING = {**Postgres.TIME_MAPPING, "Mon": "%b", "Dy": "%a", "FMMonth": "%B", "FMDay": "%A",
                    "AM": "%p", "PM": "%p"}

    class Parser(Postgres.Parser):  # type: ignore[misc, valid-type]  # sqlglot builds Parser dynamically
        FUNCTION_PARSERS = {**Postgres.Parser.FUNCTION_PARSERS, "DATE_PART": _date_part}


__all__ = ["DATE_PART", "UNCONSTRAINED", "ExtractPostgres", "check_date_field", "field_of", "is_unconstrained",
           "pg_extract", "rewrite_extracts", "scale", "unconstrained"]
