"""PostgreSQL numeric arithmetic whose result scale depends on the values, for the catalog engine.

DuckDB's DECIMAL has a scale fixed by the types, and its decimal division yields DOUBLE. PostgreSQL's
numeric division picks the result scale from the operands' values (select_div_scale in numeric.c: at
least 16 significant digits, never fewer fraction digits than either operand), so 1::numeric/3 prints
0.33333333333333333333 and 10::numeric/4 prints 2.5000000000000000. The catalog engine's data is small
(constants, catalog rows, temp tables), so such values are computed here with exact integer / Decimal
arithmetic, one Python call per value, and carried as PostgreSQL's numeric text (the row encoder sends a
string column announced as numeric verbatim in text format and parses it for binary format).
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from virtual_schema import errors as E
from virtual_schema.errors import PgError

_MIN_SIG_DIGITS = 16  # NUMERIC_MIN_SIG_DIGITS
_DEC_DIGITS = 4  # decimal digits per base-10000 NumericDigit
_MAX_DISPLAY_SCALE = 1000
_CTX = decimal.Context(prec=2000, rounding=decimal.ROUND_HALF_UP, Emin=-999999, Emax=999999)


def parse(text: str) -> Decimal:
    """A numeric's text (as DuckDB or this module prints it) as a Decimal keeping its display scale."""
    try:
        d = Decimal(text.strip())
    except decimal.InvalidOperation:
        raise PgError(E.INVALID_TEXT_REPRESENTATION, f'invalid input syntax for type numeric: "{text}"') from None
    if not d.is_finite():
        raise PgError(E.FEATURE_NOT_SUPPORTED, "NaN and infinite numerics are not supported by the catalog")
    return d


def dscale(d: Decimal) -> int:
    """Digits after the decimal point PostgreSQL displays (numeric_in keeps trailing zeros, drops exponents)."""
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _at_scale(d: Decimal, scale: int, rounding: str = decimal.ROUND_HALF_UP) -> Decimal:
    """d with exactly `scale` fraction digits (negative: rounded to tens, hundreds, …), half away from zero."""
    return d.quantize(Decimal(1).scaleb(-scale), rounding=rounding, context=_CTX)


def text(d: Decimal, scale: int) -> str:
    """numeric_out: exactly `scale` fraction digits, rounded half away from zero, never a negative zero."""
    q = _at_scale(d, scale)
    if q.is_zero():
        q = q.copy_abs()
    return format(q, "f")


def own_text(d: Decimal) -> str:
    """numeric_out of a value at the scale it carries (numeric_in keeps the digits written after the point)."""
    return text(d, dscale(d))


def plain(written: str) -> str:
    """A numeric constant as numeric_in reads it, without its exponent: 1e3 is 1000, 1.5e-3 is 0.0015."""
    return own_text(parse(written))


def _weight_and_first_digit(d: Decimal) -> tuple[int, int]:
    """The base-10000 weight and leading NumericDigit of a normalized value (0, 0 for zero)."""
    if d.is_zero():
        return 0, 0
    weight = d.adjusted() // _DEC_DIGITS
    first = int(d.copy_abs().scaleb(-_DEC_DIGITS * weight, context=_CTX))
    return weight, first


def div_scale(a: Decimal, b: Decimal) -> int:
    """select_div_scale: enough fraction digits for 16 significant digits of the estimated quotient."""
    w1, f1 = _weight_and_first_digit(a)
    w2, f2 = _weight_and_first_digit(b)
    qweight = w1 - w2 - (1 if f1 <= f2 else 0)  # equal leading digits: assume a < b
    rscale = _MIN_SIG_DIGITS - qweight * _DEC_DIGITS
    return min(max(rscale, dscale(a), dscale(b), 0), _MAX_DISPLAY_SCALE)


def _divide_rounded(a: Decimal, b: Decimal, scale: int) -> Decimal:
    """a / b rounded half away from zero to `scale` fraction digits, by exact integer division."""
    num = a.scaleb(scale, context=_CTX)
    ta, tb = num.as_tuple(), b.as_tuple()
    assert isinstance(ta.exponent, int) and isinstance(tb.exponent, int)
    ia = int("".join(map(str, ta.digits)) or "0")
    ib = int("".join(map(str, tb.digits)) or "0")
    shift = ta.exponent - tb.exponent  # value = ia / ib * 10^shift
    if shift >= 0:
        ia *= 10**shift
    else:
        ib *= 10**-shift
    q, r = divmod(ia, ib)
    if 2 * r >= ib:
        q += 1
    negative = (ta.sign == 1) != (tb.sign == 1)
    return Decimal(-q if negative else q).scaleb(-scale, context=_CTX)


def _divisor(b: Decimal) -> Decimal:
    if b.is_zero():
        raise PgError(E.DIVISION_BY_ZERO, "division by zero")
    return b


def div(a: str, b: str) -> str:
    """numeric / numeric as PostgreSQL computes and prints it."""
    x, y = parse(a), _divisor(parse(b))
    scale = div_scale(x, y)
    return text(_divide_rounded(x, y, scale), scale)


def binary(op: str, a: str, b: str) -> str:
    """numeric <op> numeric for + - * / %: the exact result at PostgreSQL's result scale."""
    if op == "/":
        return div(a, b)
    x, y = parse(a), parse(b)
    if op == "+":
        return text(_CTX.add(x, y), max(dscale(x), dscale(y)))
    if op == "-":
        return text(_CTX.subtract(x, y), max(dscale(x), dscale(y)))
    if op == "*":
        return text(_CTX.multiply(x, y), dscale(x) + dscale(y))
    if op == "div":  # div(x, y): the quotient truncated toward zero, scale 0
        return text(_CTX.divide_int(x, _divisor(y)), 0)
    if op == "%":
        return text(_CTX.remainder(x, _divisor(y)), max(dscale(x), dscale(y)))  # sign of the dividend
    raise PgError(E.FEATURE_NOT_SUPPORTED, f"numeric operator {op} is not supported by the catalog")


def unary(fn: str, a: str, s: int) -> str:
    """round/trunc(x, s), ceil, floor, abs and negation of a numeric, with PostgreSQL's result scale."""
    x = parse(a)
    if fn == "round":
        return text(_at_scale(x, s), max(s, 0))
    if fn == "trunc":
        return text(_at_scale(x, s, decimal.ROUND_DOWN), max(s, 0))
    if fn in ("ceil", "ceiling"):
        return text(x.to_integral_value(rounding=decimal.ROUND_CEILING), 0)
    if fn == "floor":
        return text(x.to_integral_value(rounding=decimal.ROUND_FLOOR), 0)
    if fn == "abs":
        return text(x.copy_abs(), dscale(x))
    if fn == "neg":
        return text(x.copy_negate(), dscale(x))
    if fn == "typmod":
        return to_typmod(x, s)
    if fn == "in":  # text -> numeric
        return own_text(x)
    raise PgError(E.FEATURE_NOT_SUPPORTED, f"numeric function {fn} is not supported by the catalog")


def to_typmod(x: Decimal, typmod: int) -> str:
    """x::numeric(p,s): rounded to s digits; 22003 when the integer part needs more than p - s digits."""
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    rounded = _at_scale(x, scale)
    digits = precision - scale
    if not rounded.is_zero() and rounded.adjusted() + 1 > digits:
        limit = f"10^{digits}" if digits else "1"
        raise PgError(
            E.NUMERIC_VALUE_OUT_OF_RANGE,
            "numeric field overflow",
            detail=f"A field with precision {precision}, scale {scale} must round to an absolute value less than "
            f"{limit}.",
        )
    return text(rounded, scale)


def extreme(op: str, values: list[str | None]) -> str | None:
    """greatest / least of numerics: the first largest (smallest) value as written, NULLs ignored."""
    best: Decimal | None = None
    for v in values:
        if v is None:
            continue
        d = parse(v)
        if best is None or (d > best if op == "greatest" else d < best):
            best = d
    return None if best is None else own_text(best)


def power(a: str, b: str) -> str:
    """numeric ^ numeric as PostgreSQL 15's power_var: an integral exponent multiplies exactly to 16 fraction
    digits (or the base's scale); any other goes through exp(b * ln(a)) keeping 16 significant digits of the
    estimated decimal weight of the result, at least either input's scale."""
    x, y = parse(a), parse(b)
    integral = y == y.to_integral_value()
    if x.is_zero() and y < 0:
        raise PgError("2201F", "zero raised to a negative power is undefined")
    if x < 0 and not integral:
        raise PgError("2201F", "a negative number raised to a non-integer power yields a complex result")
    if integral:
        scale = min(max(_MIN_SIG_DIGITS, dscale(x)), _MAX_DISPLAY_SCALE)
        if y.is_zero():
            return text(Decimal(1), scale)  # 0 ^ 0 is 1, as SQL:2003 has it
    else:
        weight = float(y * x.ln(context=_CTX)) * 0.434294481903252
        scale = min(max(_MIN_SIG_DIGITS - int(weight), dscale(x), dscale(y), 0), _MAX_DISPLAY_SCALE)
    if integral and y >= 0:
        return text(_CTX.power(x, int(y)), scale)
    if integral:
        return text(_divide_rounded(Decimal(1), _CTX.power(x, -int(y)), scale), scale)
    ctx = decimal.Context(prec=scale + abs(int(weight)) + 40, Emin=-999999, Emax=999999)  # guard digits
    return text(ctx.exp(ctx.multiply(y, ctx.ln(x))), scale)


def sqrt(a: str) -> str:
    """numeric_sqrt: 16 significant digits from the argument's base-10000 weight, at least its own scale."""
    x = parse(a)
    if x < 0:
        raise PgError("2201F", "cannot take square root of a negative number")
    weight, _first = _weight_and_first_digit(x)
    sweight = (weight + 1) * _DEC_DIGITS // 2 - 1
    scale = min(max(_MIN_SIG_DIGITS - sweight, dscale(x), 0), _MAX_DISPLAY_SCALE)
    root = _CTX.sqrt(x)  # correctly rounded to 2000 digits: no tie survives to `scale`
    return text(root, scale)


def from_float(x: float) -> str:
    """float8 -> numeric: PostgreSQL keeps DBL_DIG (15) significant digits (float8_numeric)."""
    if x != x or x in (float("inf"), float("-inf")):
        raise PgError(E.FEATURE_NOT_SUPPORTED, "NaN and infinite numerics are not supported by the catalog")
    return own_text(Decimal(format(x, ".15g")))
