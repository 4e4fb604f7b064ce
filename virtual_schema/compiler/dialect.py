"""The dialect incoming SQL is read in: PostgreSQL plus the non-PostgreSQL idioms BI tools send to it.

ThoughtSpot, Metabase and others send Redshift/MySQL-style calls (DATEADD(day, n, d), DATEDIFF(day, a, b),
STR_TO_DATE(text, 'YYYY-MM-DD HH24:MI:SS.US'), CHARINDEX) to "PostgreSQL". They are parsed here into sqlglot's
canonical expressions so both targets (DuckDB, Databricks) render them; `normalize` then fixes PostgreSQL
idioms whose literal rendering would mean something else in the targets (unit abbreviations, casts of
YYYYMMDD text to date). `target_dialect` gives the dialect the compiled SQL is rendered in: for Databricks,
sqlglot's own dialect with EXTRACT/date_part fields spelled so Spark answers as PostgreSQL does.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.dialects.databricks import Databricks
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.postgres import Postgres
from sqlglot.generators.databricks import DatabricksGenerator

from virtual_schema.pgextract import ExtractPostgres, unconstrained
from virtual_schema.pgtypes import UNCONSTRAINED_PRECISION, UNCONSTRAINED_SCALE

# PostgreSQL's EXTRACT/date_trunc unit spellings (and Redshift's) → the canonical unit names.
_UNIT_ALIASES = {
    "QTR": "QUARTER", "QTRS": "QUARTER", "QUARTERS": "QUARTER",
    "YR": "YEAR", "YRS": "YEAR", "YEARS": "YEAR", "Y": "YEAR",
    "MON": "MONTH", "MONS": "MONTH", "MONTHS": "MONTH",
    "W": "WEEK", "WEEKS": "WEEK",
    "D": "DAY", "DAYS": "DAY",
    "H": "HOUR", "HR": "HOUR", "HRS": "HOUR", "HOURS": "HOUR",
    "M": "MINUTE", "MIN": "MINUTE", "MINS": "MINUTE", "MINUTES": "MINUTE",
    "S": "SECOND", "SEC": "SECOND", "SECS": "SECOND", "SECONDS": "SECOND",
}


def _str_to_date(args: list[Any]) -> exp.Expression:
    """STR_TO_DATE(text, pg_format): Cube's timestamp parse with a PostgreSQL to_char-style format."""
    fmt = args[1] if len(args) > 1 else exp.Literal.string("YYYY-MM-DD")
    if isinstance(fmt, exp.Literal) and fmt.is_string:
        fmt = Postgres().format_time(fmt) or fmt
    return exp.StrToTime(this=args[0], format=fmt)


_TIMESTAMP = exp.DataType.build("TIMESTAMP")


def _unit(arg: exp.Expression) -> exp.Var:
    name = arg.name.upper()
    return exp.var(_UNIT_ALIASES.get(name, name))


def _dateadd(args: list[Any]) -> exp.Expression:
    """DATEADD(unit, n, t) (Redshift/SQL Server): a timestamp, as Redshift answers."""
    if len(args) != 3:
        return exp.Anonymous(this="DATEADD", expressions=args)
    return exp.DateAdd(this=exp.cast(args[2], _TIMESTAMP), expression=args[1], unit=_unit(args[0]))


def _datediff(args: list[Any]) -> exp.Expression:
    """DATEDIFF(unit, a, b) (Redshift/SQL Server): unit boundaries crossed from a to b, a bigint."""
    if len(args) != 3:
        return exp.Anonymous(this="DATEDIFF", expressions=args)
    return exp.DateDiff(this=exp.cast(args[2], _TIMESTAMP), expression=exp.cast(args[1], _TIMESTAMP),
                        unit=_unit(args[0]))


def _charindex(args: list[Any]) -> exp.Expression:
    """CHARINDEX(needle, haystack): 1-based position, 0 when absent (as strpos)."""
    return exp.StrPosition(this=args[1], substr=args[0])


class BiPostgres(ExtractPostgres):
    """PostgreSQL as BI tools speak it (date_part() marked apart from EXTRACT: float8, not numeric)."""

    class Parser(ExtractPostgres.Parser):
        FUNCTIONS = {
            **Postgres.Parser.FUNCTIONS,
            "DATEADD": _dateadd,
            "DATEDIFF": _datediff,
            "STR_TO_DATE": _str_to_date,
            "CHARINDEX": _charindex,
        }


def _canonical_unit(node: exp.Expr) -> None:
    unit = node.args.get("unit") if not isinstance(node, exp.Extract) else node.this
    if isinstance(unit, (exp.Var, exp.Literal)):
        name = _UNIT_ALIASES.get(unit.name.upper())
        if name is not None:
            new = exp.Literal.string(name) if isinstance(unit, exp.Literal) else exp.var(name)
            unit.replace(new)


_DATE_TARGETS = (exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ,
                 exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.DATETIME)


def _yyyymmdd_to_date(node: exp.Cast) -> exp.Expression | None:
    """CAST(CAST(<number> AS text) AS date/timestamp): PostgreSQL reads the digits as YYYYMMDD; the targets do not."""
    inner = node.this
    if not (node.to.is_type(*_DATE_TARGETS) and isinstance(inner, exp.Cast)
            and inner.to.is_type(*exp.DataType.TEXT_TYPES)):
        return None
    src = inner.this
    while isinstance(src, exp.Paren):
        src = src.this
    numeric = (isinstance(src, exp.Literal) and not src.is_string) or isinstance(
        src, (exp.Add, exp.Sub, exp.Mul, exp.Extract))
    if not numeric:
        return None
    digits = exp.cast(exp.cast(src.copy(), exp.DataType.build("BIGINT")), exp.DataType.build("TEXT"))
    return exp.cast(exp.StrToDate(this=digits, format=exp.Literal.string("%Y%m%d")), node.to.copy())


CHAR_CUT = "char_cut"  # meta of the LEFT(CAST(x AS text), n) that _char_length writes for CAST(x AS varchar(n))


def _char_length(node: exp.Cast) -> exp.Expression | None:
    """CAST(x AS varchar(n) | char(n)): PostgreSQL cuts the text to n characters; DuckDB and Spark keep the whole
    text, so the cut is written out. char(n)'s blank padding is not: PostgreSQL's bpchar ignores trailing blanks in
    length(), || and comparisons, so only its printed form would differ (`ab` for `ab   `)."""
    to = node.to
    if not to.is_type(exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR) or len(to.expressions) != 1:
        return None
    param = to.expressions[0]
    n = param.this if isinstance(param, exp.DataTypeParam) else param
    if not (isinstance(n, exp.Literal) and n.is_int):
        return None
    cut = exp.Left(this=exp.cast(node.this.copy(), exp.DataType.build("VARCHAR")),
                   expression=exp.Literal.number(int(n.this)))
    cut.meta[CHAR_CUT] = True  # the column is still named after the cast's argument
    return exp.Cast(this=cut, to=to.copy())


def _bare_numeric(node: exp.Cast) -> None:
    """CAST(x AS numeric) without a typmod keeps x's digits in PostgreSQL; a bare DECIMAL is DuckDB's DECIMAL(18,3)
    and Spark's DECIMAL(10,0) (Power BI's `sum(cast(x as decimal))` lost every decimal on Databricks, and overflowed
    above 10^10). It becomes DECIMAL(38,10), still announced as numeric without typmod."""
    to = node.to
    if to.this == exp.DataType.Type.DECIMAL and not to.expressions:
        node.set("to", unconstrained(UNCONSTRAINED_PRECISION, UNCONSTRAINED_SCALE))


def normalize(tree: exp.Expression) -> exp.Expression:
    """Rewrite idioms whose PostgreSQL meaning the targets would not keep if rendered literally."""
    for node in list(tree.find_all(exp.Extract, exp.TimestampTrunc, exp.DateTrunc, exp.DateDiff, exp.TsOrDsDiff,
                                   exp.DateAdd, exp.TsOrDsAdd)):
        _canonical_unit(node)
    for cast in list(tree.find_all(exp.Cast)):
        new = _yyyymmdd_to_date(cast) or _char_length(cast)
        if new is not None:
            cast.replace(new)
        else:
            _bare_numeric(cast)
    return tree


# EXTRACT/date_part fields on Spark SQL (verified on Spark 4, against PostgreSQL 15): Spark's DOW/DAYOFWEEK is
# 1-7 from Sunday (PostgreSQL: 0-6 from Sunday); DAYOFWEEK_ISO and YEAROFWEEK are PostgreSQL's ISODOW and ISOYEAR;
# SECOND keeps the fraction (decimal(8,6)) as PostgreSQL does; DOY, WEEK (ISO), QUARTER and the calendar fields
# agree. EPOCH, MILLISECOND(S), MICROSECOND(S), DECADE, CENTURY and MILLENNIUM do not exist in Spark.
_PG_FIELD_ALIASES = {
    "MILLISECONDS": "MILLISECOND", "MS": "MILLISECOND", "MSEC": "MILLISECOND",
    "MSECS": "MILLISECOND", "MSECONDS": "MILLISECOND", "MICROSECONDS": "MICROSECOND", "US": "MICROSECOND",
    "USEC": "MICROSECOND", "USECS": "MICROSECOND", "USECONDS": "MICROSECOND", "DECADES": "DECADE",
    "DEC": "DECADE", "DECS": "DECADE", "CENTURIES": "CENTURY", "C": "CENTURY", "CENT": "CENTURY",
    "MILLENNIA": "MILLENNIUM", "MILLENNIUMS": "MILLENNIUM", "MIL": "MILLENNIUM", "MILS": "MILLENNIUM",
}


def _spark_extract(field: str, x: exp.Expression) -> exp.Expression | None:
    """Spark SQL for PostgreSQL's EXTRACT(field FROM x), or None when Spark's own field means the same."""
    def part(name: str) -> exp.Expression:
        return exp.Extract(this=exp.var(name), expression=x.copy())

    def num(v: int) -> exp.Expression:
        return exp.Literal.number(v)

    if field == "DOW":
        return exp.Paren(this=exp.Sub(this=part("DAYOFWEEK"), expression=num(1)))
    if field == "ISODOW":
        return part("DAYOFWEEK_ISO")
    if field == "ISOYEAR":
        return part("YEAROFWEEK")
    if field == "MILLISECOND":  # seconds with fraction, in milliseconds: 12.345678 s -> 12345.678
        return exp.Paren(this=exp.Mul(this=part("SECOND"), expression=num(1000)))
    if field == "MICROSECOND":
        return exp.cast(exp.Mul(this=part("SECOND"), expression=num(1_000_000)), exp.DataType.build("BIGINT"))
    if field == "EPOCH":  # nominal seconds since 1970-01-01 00:00, as PostgreSQL reads a timestamp without time zone
        origin = exp.cast(exp.Literal.string("1970-01-01 00:00:00"), exp.DataType.build("TIMESTAMP_NTZ"))
        micros = exp.TimestampDiff(this=x.copy(), expression=origin, unit=exp.var("MICROSECOND"))
        return exp.Paren(this=exp.Div(this=micros, expression=exp.Literal.number("1000000.0")))
    if field == "DECADE":  # years AD
        return exp.Paren(this=exp.IntDiv(this=part("YEAR"), expression=num(10)))
    if field in ("CENTURY", "MILLENNIUM"):  # years AD: the 21st century starts in 2001
        span = 100 if field == "CENTURY" else 1000
        shifted = exp.Paren(this=exp.Add(this=part("YEAR"), expression=num(span - 1)))
        return exp.Paren(this=exp.IntDiv(this=shifted, expression=num(span)))
    return None


class _DatabricksTargetGenerator(DatabricksGenerator):
    def extract_sql(self, expression: exp.Extract) -> str:
        field = expression.this.name.upper() if isinstance(expression.this, (exp.Var, exp.Literal)) else ""
        rewritten = _spark_extract(_PG_FIELD_ALIASES.get(field, field), expression.expression)
        return self.sql(rewritten) if rewritten is not None else str(super().extract_sql(expression))


class DatabricksTarget(Databricks):
    """Databricks SQL as the compiler renders it: sqlglot's dialect, PostgreSQL's EXTRACT fields."""

    Generator = _DatabricksTargetGenerator


def target_dialect(name: str) -> str | type[Dialect]:
    """The sqlglot dialect compiled SQL for target `name` is rendered in."""
    return DatabricksTarget if name == "databricks" else name


__all__ = ["BiPostgres", "DatabricksTarget", "normalize", "target_dialect"]
