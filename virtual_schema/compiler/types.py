"""Type bridges: Arrow (physical schema) → sqlglot DataType (inference) → PostgreSQL column types.

Result types are computed, never observed: sqlglot's type annotator runs over expressions whose leaf
columns carry the physical Arrow types, and aggregates get explicit casts in the rendered SQL so that what
the warehouse returns is exactly what RowDescription announced.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

import pyarrow as pa
from sqlglot import exp

from virtual_schema.catalog import pgnumeric
from virtual_schema.pgextract import is_unconstrained, unconstrained
from virtual_schema.pgtypes import PgColumnType, pg_type_for_sql_name

DT = exp.DataType
T = exp.DataType.Type

INT = DT.build("INT")
BIGINT = DT.build("BIGINT")
DOUBLE = DT.build("DOUBLE")
TEXT = DT.build("VARCHAR")
BOOLEAN = DT.build("BOOLEAN")
DATE = DT.build("DATE")
TIMESTAMP = DT.build("TIMESTAMPNTZ")  # naive: DuckDB TIMESTAMP, Databricks TIMESTAMP_NTZ (its TIMESTAMP has a zone)

INTEGER_TYPES = {T.TINYINT, T.SMALLINT, T.INT, T.BIGINT, T.UTINYINT, T.USMALLINT, T.UINT, T.UBIGINT, T.INT128, T.BIT}
FLOAT_TYPES = {T.FLOAT, T.DOUBLE}


def arrow_to_sqlglot(t: pa.DataType) -> exp.DataType:
    if pa.types.is_boolean(t):
        return BOOLEAN
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return DT.build("SMALLINT")
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return DT.build("INT")
    if pa.types.is_integer(t):
        return BIGINT
    if pa.types.is_floating(t):
        return DT.build("FLOAT") if pa.types.is_float32(t) else DOUBLE
    if pa.types.is_decimal(t):
        return decimal(t.precision, t.scale)
    if pa.types.is_date(t):
        return DATE
    if pa.types.is_timestamp(t):
        return DT.build("TIMESTAMPTZ") if t.tz else TIMESTAMP
    if pa.types.is_time(t):
        return DT.build("TIME")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return DT.build("VARBINARY")
    return TEXT


@lru_cache(maxsize=512)
def _pg_for_sql(name: str) -> PgColumnType:
    return pg_type_for_sql_name(name)


_NUMERIC_AS_DOUBLE = "pg_numeric"  # meta flag of a DOUBLE that PostgreSQL types numeric (see numeric_double)


def numeric_double() -> exp.DataType:
    """DOUBLE in the warehouse, numeric to the client: PostgreSQL's numeric division (EXTRACT(MONTH FROM d) / 3),
    whose result scale depends on the value; neither DuckDB nor Spark divides decimals exactly."""
    dt = DOUBLE.copy()
    dt.meta[_NUMERIC_AS_DOUBLE] = True
    return dt


def is_numeric_double(dt: exp.DataType | None) -> bool:
    return dt is not None and bool(dt._meta) and bool(dt.meta.get(_NUMERIC_AS_DOUBLE))


def numeric_arith(op: exp.Expression, left: exp.DataType, right: exp.DataType) -> exp.DataType:
    """The type of numeric +, -, *, /, % as PostgreSQL computes it (numeric.c): + - % keep the larger scale,
    * adds the scales, / has a value-dependent scale (numeric_double). Integers have scale 0. The result is
    announced as plain numeric: PostgreSQL's operators never carry a typmod."""
    if isinstance(op, exp.Div) or is_numeric_double(left) or is_numeric_double(right):
        return numeric_double()
    scales = [_scale(t) for t in (left, right)]
    if None in scales:
        return numeric_double()
    sl, sr = (s or 0 for s in scales)
    return unconstrained(38, min(sl + sr if isinstance(op, exp.Mul) else max(sl, sr), 37))  # numeric, typmod -1


def literal_type(lit: exp.Literal) -> exp.DataType | None:
    """A numeric constant as PostgreSQL types it: an integer is int4, int8 or numeric by its size; a decimal
    (`1.5`, `3.0`, `1e3`) is numeric with the scale it is written with (numeric_in: `1.50` has scale 2, `1.5e-3`
    scale 4, `1e3` scale 0), announced as plain numeric; DuckDB and Spark read `1.5` as DECIMAL(2, 1) too
    (sqlglot's annotator says DOUBLE). None for strings and numbers beyond what DECIMAL(38, s) holds."""
    if lit.is_string:
        return None
    written = lit.this
    if written.isdigit():  # int4, int8, then numeric (sqlglot says INT for any size)
        n = int(written)
        return INT if n <= 2**31 - 1 else BIGINT if n <= 2**63 - 1 else unconstrained(38, 0) if len(written) <= 38 \
            else None
    try:
        d = Decimal(written)
    except ArithmeticError:
        return None
    if not d.is_finite():
        return None
    s = pgnumeric.dscale(d)
    digits = d.as_tuple().digits
    whole = max(len(digits) + int(d.as_tuple().exponent), 0)  # digits before the point
    if s > 37 or whole + s > 38:
        return None
    return unconstrained(38, s)


def exact_literal(lit: exp.Literal) -> exp.Expression | None:
    """A decimal constant written with an exponent (`1e3`, `2.5E-2`), which DuckDB and Spark read as a double,
    as the exact DECIMAL PostgreSQL reads (a cast of its plain digits: `1000` alone would be an integer)."""
    if lit.is_string or not any(c in lit.this for c in "eE"):
        return None
    t = literal_type(lit)
    if t is None:
        return None
    return exp.Cast(this=exp.Literal.number(pgnumeric.plain(lit.this)), to=t)


def common_numeric(types: Sequence[exp.DataType | None]) -> exp.DataType | None:
    """The common type PostgreSQL resolves for CASE / COALESCE / UNION branches when one is numeric and none is a
    float (None: not such a mix, leave the type as it is). A typmod survives only when every branch has the same
    one (select_common_typmod): numeric(18,2) with numeric(18,2) stays numeric(18,2), numeric(18,2) with an
    integer, a constant or NULL is plain numeric, held at the largest scale (PostgreSQL keeps each value's own scale);
    a numeric computed as a double (a quotient) makes the whole a double announced numeric."""
    known_types = [t for t in types if t is not None and known(t)]
    if not any(t.this is T.DECIMAL or is_numeric_double(t) for t in known_types):
        return None
    if not all(t.this in INTEGER_TYPES or t.this is T.DECIMAL or is_numeric_double(t) for t in known_types):
        return None
    if any(is_numeric_double(t) for t in known_types):
        return numeric_double()
    first = known_types[0]
    nulls = len(known_types) < len(types)  # a NULL branch is a numeric without typmod
    if not nulls and all(t == first and is_unconstrained(t) == is_unconstrained(first) for t in known_types):
        return first
    scales = [_scale(t) for t in known_types]
    if None in scales:  # a DECIMAL without a scale (CAST(x AS numeric)): its values' scale is unknown, keep 6
        scales.append(6)
    return unconstrained(38, min(max(s or 0 for s in scales), 37))


def plain_numeric(dt: exp.DataType | None) -> exp.DataType | None:
    """A DECIMAL(p, s) announced as plain numeric (typmod -1), as PostgreSQL announces an aggregate, an operator
    or a function of a numeric(p, s); any other type as it is."""
    if dt is None or dt.this is not T.DECIMAL or is_unconstrained(dt):
        return dt
    scale = _scale(dt)
    return unconstrained(_precision(dt), scale or 0)


def _precision(dt: exp.DataType) -> int:
    return int(str(dt.expressions[0].this.this)) if dt.expressions else 18


def _scale(dt: exp.DataType) -> int | None:
    if dt.this in INTEGER_TYPES:
        return 0
    if dt.this is T.DECIMAL and len(dt.expressions) > 1:
        return int(str(dt.expressions[1].this.this))
    return None


def rounded(fn: exp.Expression, arg: exp.DataType | None) -> exp.DataType | None:
    """round / trunc / ceil / floor as PostgreSQL types them (None: leave sqlglot's type). Of a numeric the result
    is numeric with the asked-for scale (round(numeric, n): max(n, 0) digits; one argument, ceil and floor: 0),
    announced as plain numeric; of a float, float8; of an integer, float8 (PostgreSQL prefers float8 over numeric
    for an integer argument), but round(int, n) and trunc(int, n) exist only for numeric. A numeric computed as
    a double (a quotient) stays one: the value is PostgreSQL's, but round(x, 2) of 1 prints 1, not 1.00."""
    if arg is None:
        return None
    numeric = arg.this is T.DECIMAL or is_numeric_double(arg)
    digits = None if isinstance(fn, (exp.Floor, exp.Ceil)) else fn.args.get("decimals")
    if (arg.this in FLOAT_TYPES and not numeric) or (arg.this in INTEGER_TYPES and digits is None):
        return DOUBLE
    if not numeric and arg.this not in INTEGER_TYPES:
        return None
    if is_numeric_double(arg):
        return numeric_double()  # a double in the warehouse: rounded there, its text without trailing zeros
    if digits is None:
        return unconstrained(38, 0)
    literal = digits.this if isinstance(digits, exp.Neg) else digits
    if not (isinstance(literal, exp.Literal) and literal.is_int):
        return numeric_double()  # a scale known only per row
    return unconstrained(38, min(max(int(literal.this) if digits is literal else 0, 0), 37))


def pg_type(dt: exp.DataType | None) -> PgColumnType:
    """PostgreSQL type of an inferred sqlglot type (unknown → text)."""
    if dt is None or dt.this in (T.UNKNOWN, T.NULL):
        return _pg_for_sql("text")
    if is_numeric_double(dt) or is_unconstrained(dt):
        return _pg_for_sql("numeric")
    if dt.this in (T.TIMESTAMPNTZ, T.DATETIME):
        return _pg_for_sql("timestamp")
    if dt.this in (T.TIMESTAMPLTZ,):
        return _pg_for_sql("timestamptz")
    if dt.this is T.INT128:
        return _pg_for_sql("numeric(38,0)")
    if dt.this in (T.VARCHAR, T.CHAR, T.TEXT, T.NCHAR, T.NVARCHAR):
        return _pg_for_sql("text")
    key = _plain_key(dt)
    if key is None:
        return _pg_for_sql(dt.sql("postgres"))
    got = _PG_BY_KEY.get(key)
    if got is None:  # rendering a type costs a generator; types with plain parameters are memoised by value
        got = _PG_BY_KEY[key] = _pg_for_sql(dt.sql("postgres"))
    return got


def pg_type_written(dt: exp.DataType) -> PgColumnType:
    """PostgreSQL's reading of a type as a statement spells it: unlike pg_type, `varchar` is not `text` here."""
    return _pg_for_sql(dt.sql("postgres"))


_PG_BY_KEY: dict[tuple[object, tuple[str, ...]], PgColumnType] = {}


def _plain_key(dt: exp.DataType) -> tuple[object, tuple[str, ...]] | None:
    """(type, parameter texts) for a scalar type whose parameters are plain numbers or words, else None."""
    if any(dt.args.get(k) for k in ("nested", "values", "kind", "nullable")):
        return None
    params: list[str] = []
    for p in dt.expressions:
        inner = p.this if isinstance(p, exp.DataTypeParam) else p
        if not isinstance(inner, (exp.Literal, exp.Var)):
            return None
        params.append(inner.name)
    return dt.this, tuple(params)


def known(dt: exp.DataType | None) -> bool:
    return dt is not None and dt.this not in (T.UNKNOWN, T.NULL)


@lru_cache(maxsize=64)
def decimal(precision: int, scale: int) -> exp.DataType:
    return DT.build(f"DECIMAL({precision}, {scale})")


def table(name: str) -> exp.Table:
    """A table node for a (possibly dotted) relation name, built without parsing."""
    parts = name.split(".")
    ident = [exp.to_identifier(p) for p in parts]
    return exp.Table(
        this=ident[-1], db=ident[-2] if len(ident) > 1 else None, catalog=ident[-3] if len(ident) > 2 else None
    )


def sum_type(dt: exp.DataType) -> exp.DataType:
    """What SUM yields after our cast: integers → BIGINT, decimals → DECIMAL(38, s), else DOUBLE."""
    if dt.this in INTEGER_TYPES or dt.this is T.BOOLEAN:
        return BIGINT
    if dt.this is T.DECIMAL:
        scale = dt.expressions[1].this.this if len(dt.expressions) > 1 else "0"
        return decimal(38, int(str(scale)))
    return DOUBLE


def is_temporal(dt: exp.DataType | None) -> bool:
    return dt is not None and dt.this in (
        T.DATE,
        T.TIMESTAMP,
        T.TIMESTAMPTZ,
        T.TIMESTAMPNTZ,
        T.DATETIME,
        T.TIMESTAMPLTZ,
    )
