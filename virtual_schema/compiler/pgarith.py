"""PostgreSQL's integer division over virtual columns, made explicit before rendering.

PostgreSQL resolves `a / b` by the operands' types: two integers (int2/int4/int8) divide as integers,
truncating toward zero (-7 / 2 = -3), and a zero divisor is 22012. DuckDB's `/` is always float division and
Spark's is decimal/double division, so such a `/` is rewritten to sqlglot's IntDiv, which renders as DuckDB
`//` and Spark `DIV`: both truncate toward zero and fail on a zero divisor (DuckDB "Division by zero",
Databricks DIVIDE_BY_ZERO, both mapped to 22012), verified against PostgreSQL 15 in tests/compiler.
`%` needs nothing: all three engines give the remainder the dividend's sign.

The operand types are resolved as PostgreSQL resolves them, not as sqlglot annotates them: EXTRACT is numeric,
floor/ceil/round/sign are numeric or float8, so `FLOOR(x) / 2` or `EXTRACT(MONTH FROM d) / 3` stay exact
divisions. An operand whose type is not certainly an integer keeps `/`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlglot import exp

from virtual_schema.catalog.formatting import format_type
from virtual_schema.compiler import types as ty
from virtual_schema.pgtypes import TYPES_BY_OID

_INT_RESULT_FUNCS = (exp.Count, exp.Length, exp.StrPosition, exp.DateDiff)  # int/bigint in PostgreSQL
_SAME_TYPE_FUNCS = (exp.Abs, exp.Paren, exp.Neg, exp.Nullif)
_INT_ARITH = (exp.Add, exp.Sub, exp.Mul, exp.Mod, exp.IntDiv)


def _is_date(e: exp.Expression, types: Mapping[str, exp.DataType]) -> bool:
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, exp.Cast):
        return e.to.this is exp.DataType.Type.DATE
    return isinstance(e, exp.Column) and e.name in types and types[e.name].this is exp.DataType.Type.DATE


def is_integer(e: exp.Expression, types: Mapping[str, exp.DataType]) -> bool | None:
    """True when PostgreSQL types `e` as int2/int4/int8; None for an untyped NULL; else False."""
    if isinstance(e, exp.Null):
        return None
    if isinstance(e, (exp.Cast, exp.TryCast)):
        return e.to.this in ty.INTEGER_TYPES
    if isinstance(e, exp.Literal):
        return not e.is_string and e.this.isdigit() and len(e.this) <= 18
    if isinstance(e, exp.Column):
        t = types.get(e.name)
        return t is not None and t.this in ty.INTEGER_TYPES
    if isinstance(e, _SAME_TYPE_FUNCS):
        return is_integer(e.this, types)
    if isinstance(e, _INT_RESULT_FUNCS):
        return True
    if isinstance(e, exp.Sub) and _is_date(e.this, types) and _is_date(e.expression, types):
        return True  # date - date is an integer number of days
    if isinstance(e, _INT_ARITH):
        return _all_integer([e.this, e.expression], types)
    if isinstance(e, (exp.Coalesce, exp.Greatest, exp.Least)):
        return _all_integer([e.this, *e.expressions], types)
    if isinstance(e, exp.Case):
        branches = [i.args["true"] for i in e.args.get("ifs") or []]
        default = e.args.get("default")
        return _all_integer(branches + ([default] if default is not None else []), types)
    return False


def _all_integer(parts: list[exp.Expression], types: Mapping[str, exp.DataType]) -> bool:
    seen = [is_integer(p, types) for p in parts]
    return any(s is True for s in seen) and all(s is not False for s in seen)


def integer_division(tree: exp.Expression, types: Mapping[str, exp.DataType]) -> None:
    """Rewrite in place every `/` of `tree` whose operands PostgreSQL types as integers into IntDiv
    (innermost first, so `a / b / c` over integers divides as integers twice)."""
    divide_integers(list(tree.find_all(exp.Div)), types)


def divide_integers(divs: list[exp.Div], types: Mapping[str, exp.DataType]) -> None:
    """`divs` in tree order (outer before inner); each whose operands are integers becomes IntDiv."""
    for node in reversed(divs):
        if is_integer(node.this, types) and is_integer(node.expression, types):
            node.replace(exp.IntDiv(this=node.this, expression=node.expression))


def numeric_literals(tree: exp.Expression) -> None:
    """Decimal constants rendered so the warehouse holds PostgreSQL's exact numeric (ty.literal_type types them):
    one written with an exponent (`1e3`, a DOUBLE to DuckDB and Spark) becomes a cast of its plain digits, and
    one multiplied becomes DECIMAL(38, its scale), because DuckDB keeps the product of two DECIMALs of at most 18
    digits at 18 (`amount * 1.5` of a DECIMAL(18, 2) overflows above 10^15; PostgreSQL's numeric does not)."""
    for lit in list(tree.find_all(exp.Literal)):
        if lit.is_string or lit.this.isdigit():
            continue
        exact = ty.exact_literal(lit)
        if exact is not None:
            lit.replace(exact)
            continue
        top: exp.Expression = lit
        while isinstance(top.parent, (exp.Paren, exp.Neg)):
            top = top.parent
        t = ty.literal_type(lit)
        if isinstance(top.parent, exp.Mul) and t is not None:
            lit.replace(exp.Cast(this=lit.copy(), to=t))


def float_text(tree: exp.Expression, type_of: Callable[[exp.Expression], exp.DataType]) -> None:
    """Float operands of `||` and of casts to text, rendered as PostgreSQL's float8 output renders them.

    PostgreSQL prints an integral float8 below 1e15 without a fraction (`4`, `123456789`); DuckDB and Spark
    print `4.0`. A date string assembled from FLOOR(...) arithmetic (ThoughtSpot's quarter start) must read
    `2022-4-01`, not `2022-4.0-01`. Other values (fractions, exponents) already print alike."""
    targets: list[exp.Expression] = []
    for node in tree.find_all(exp.DPipe, exp.Cast):
        if isinstance(node, exp.Cast):
            if node.to.this in _TEXT_TYPES:
                targets.append(node.this)
        else:
            targets.extend([node.this, node.expression])
    for operand in targets:
        if isinstance(operand, exp.Literal):
            continue
        t = type_of(operand)
        if t.this in ty.FLOAT_TYPES:
            operand.replace(pg_float_text(operand.copy()))


_TEXT_TYPES = set(exp.DataType.TEXT_TYPES)


def pg_float_text(x: exp.Expression) -> exp.Expression:
    """x::text of a float8 as float8out prints it: integral values below 1e15 without `.0`."""
    integral = exp.and_(
        exp.EQ(this=x.copy(), expression=exp.Round(this=x.copy())),  # ROUND: no bigint overflow in Spark
        exp.LT(this=exp.Abs(this=x.copy()), expression=exp.Literal.number("1e15")),
    )
    return exp.Case(
        ifs=[exp.If(this=integral, true=exp.cast(exp.cast(x.copy(), ty.BIGINT), ty.TEXT))],
        default=exp.cast(x, ty.TEXT),
    )


_TYPE_NAMES = {t.oid: (t.name, t.element_oid, "pg_catalog") for t in TYPES_BY_OID.values()}


def pg_typeof(tree: exp.Expression, type_of: Callable[[exp.Expression], exp.DataType | None],
              keep_argument: bool = False) -> None:
    """pg_typeof(x) as the text of the regtype PostgreSQL would name: the type the gateway announces for x.

    The warehouse's own PG_TYPEOF names its storage type (DuckDB's `decimal(38,2)`, `double`, `varchar`), which
    is not what a client reading the column's RowDescription was told. An argument of unknown type is left
    to the warehouse. `keep_argument`: x stays in the statement (CASE WHEN x IS NULL THEN name ELSE name END),
    so a semantic SELECT still has the rows selecting x would give it."""
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.lower() != "pg_typeof" or len(node.expressions) != 1:
            continue
        t = type_of(node.expressions[0])
        if t is not None and ty.known(t):
            name = format_type(ty.pg_type(t).oid, None, _TYPE_NAMES)
            if name is not None and name != "???":
                # an unaliased output column keeps the name PostgreSQL gives the call
                unaliased = isinstance(node.parent, exp.Select) and node.arg_key == "expressions"
                lit: exp.Expression = exp.Literal.string(name)
                if keep_argument:
                    arg = exp.Is(this=node.expressions[0].copy(), expression=exp.Null())
                    lit = exp.Case(ifs=[exp.If(this=arg, true=lit)], default=lit.copy())
                node.replace(exp.alias_(lit, "pg_typeof", quoted=True) if unaliased else lit)
