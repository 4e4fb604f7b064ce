"""Statement shapes: plan once per shape, whatever literal values a dashboard sends (issue 3).

BI tools re-send one statement with other filter values. `lift` reads the statement with pglast (PostgreSQL's
own parser: its parse tree says where constants sit, its scanner gives each constant's token) and lifts out the
plain string, integer and decimal literals in value positions: operands of comparisons whose other side is not a
constant, IN lists, BETWEEN bounds, LIKE/ILIKE patterns, CASE WHEN values and CASE results, each optionally
under one cast to a date/time, text or number type. The shape key is the statement text with every lifted
literal replaced by its kind (string, integer of ≤ 8 digits, longer integer by digit count, decimal; a CASE
result's kind also says what its type depends on: a decimal's scale, an integer past int4 or int8), plus
which lifted literals are equal to each other (the binder matches equal expressions: a CASE in SELECT and in
GROUP BY). Everything the compiler inspects stays in the key: GROUP BY/ORDER BY ordinals, DATE_TRUNC/EXTRACT
fields and every other function argument, intervals, LIMIT/OFFSET, `WHERE 1 = 0`, typmods, booleans, NULL.

The compiler compiles the first statement of a shape with its own literals, the lifted ones tagged in sqlglot's
node meta (which survives copies), and renders it once with a marker for each tagged literal
(`render_template`). Later statements of the shape fill the markers with their literals rendered by the same
dialect generator, so their SQL is byte-identical to compiling their text. Rendering as literals (not as
backend parameters) keeps the warehouse SQL, the announced types and the `CompiledQuery` contract exactly what
a full compile gives. A shape whose first statement loses a tagged literal, or whose literal is read by value
while rendering, gets no template: its statements are compiled one by one as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pglast import parser as pg_parser
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel
from sqlglot.generator import Generator

from virtual_schema.compiler.api import CompiledQuery
from virtual_schema.compiler.dialect import target_dialect

SLOT = "shape_slot"  # sqlglot meta key: index of the lifted constant a Literal node carries
_MARK = "\x00"  # PostgreSQL text cannot contain NUL, so no rendered statement does
_MARKED = re.compile("\x00([0-9]+)\x00")
_COMPARISONS = frozenset({"=", "<>", "!=", "<", ">", "<=", ">="})
_LIST_KINDS = frozenset({"AEXPR_IN", "AEXPR_BETWEEN", "AEXPR_NOT_BETWEEN"})
_PATTERN_KINDS = frozenset({"AEXPR_LIKE", "AEXPR_ILIKE", "AEXPR_DISTINCT", "AEXPR_NOT_DISTINCT"})
_CAST_TYPES = frozenset(
    {"date", "timestamp", "timestamptz", "time", "text", "varchar", "bpchar", "numeric", "int2", "int4", "int8",
     "float4", "float8"}
)
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")  # sqlglot reads `.5` as 0.5 and keeps `5.` : those stay in the key
# A distinctive value of each kind, swapped into tagged literals while the template renders: if it shows up in
# the output, the generator read the literal's value instead of rendering the node (the value would be baked in).
_POISON = {"s": "zq_shape_poison_qz", "n": "9182.736455", "i": "91827364"}


@dataclass(frozen=True, slots=True)
class Constant:
    kind: str  # "s" string, "i" integer of ≤ 8 digits, "i<n>" of n digits (+: past int4/int8), "n[<scale>]" decimal
    value: str  # the string's value (quotes undone), or the number's digits (a minus sign stays in the key)
    start: int  # character offset of the token's first character in the statement
    end: int  # character offset of the token's last character: sqlglot's Literal meta "end"


@dataclass(frozen=True, slots=True)
class Shape:
    key: tuple[str, tuple[int, ...]]  # text with kind markers, equality classes of the constants
    constants: tuple[Constant, ...]


def lift(sql: str) -> Shape | None:
    """The statement's shape, or None when it has no liftable constant (or does not parse: the full compile
    reports that)."""
    if "'" not in sql and not any(c.isdigit() for c in sql):
        return None
    try:
        tree = json.loads(pg_parser.parse_sql_json(sql))
    except pg_parser.ParseError:
        return None
    found: dict[int, dict[str, Any]] = {}
    typed: set[int] = set()
    _walk(tree, found, typed)
    if not found:
        return None
    tokens = pg_parser.scan(sql)
    by_start = {t.start: i for i, t in enumerate(tokens)}
    to_char = _byte_to_char(sql)
    consts: list[Constant] = []
    pieces: list[str] = []
    pos = 0
    for loc in sorted(found):
        i = by_start.get(to_char(loc))
        if i is None:
            continue
        tok = tokens[i]
        if tok.name == "ASCII_45" and i + 1 < len(tokens):  # -5: the sign stays in the key, digits are lifted
            i += 1
            tok = tokens[i]
        text = sql[tok.start : tok.end + 1]
        if tok.name == "SCONST":
            follows = tokens[i + 1].name if i + 1 < len(tokens) else ""
            if len(text) < 2 or text[0] != "'" or text[-1] != "'" or follows == "SCONST":
                continue  # E'…', $$…$$, U&'…' and 'a' 'b' continuations stay in the key
            sval = found[loc].get("sval")
            kind, value = "s", (sval.get("sval", "") if isinstance(sval, dict) else "")
        elif tok.name in ("ICONST", "FCONST") and text.isascii() and text.isdigit():  # beyond int4: FCONST
            kind, value = _integer_kind(text, loc in typed), text
        elif tok.name == "FCONST" and _DECIMAL.fullmatch(text):  # a CASE result's scale is its type's (1.50: 2)
            kind, value = f"n{len(text) - text.index('.') - 1}" if loc in typed else "n", text
        else:
            continue
        pieces.append(sql[pos : tok.start])
        pieces.append(f"{_MARK}{kind}{_MARK}")
        pos = tok.end + 1
        consts.append(Constant(kind, value, tok.start, tok.end))
    if not consts:
        return None
    pieces.append(sql[pos:])
    first: dict[tuple[str, str], int] = {}
    classes = tuple(first.setdefault((c.kind, c.value), i) for i, c in enumerate(consts))
    return Shape(("".join(pieces), classes), tuple(consts))


def _integer_kind(digits: str, typed: bool) -> str:
    """An integer's kind. A CASE result's type is the column's, so it must be the same for every value of a kind
    (int4 up to 2147483647, int8 up to 9223372036854775807, numeric beyond): 10- and 19-digit values past those
    limits are kinds of their own there."""
    if len(digits) <= 8:
        return "i"
    beyond = typed and ((len(digits) == 10 and int(digits) > 2**31 - 1)
                        or (len(digits) == 19 and int(digits) > 2**63 - 1))
    return f"i{len(digits)}{'+' if beyond else ''}"


def literal_variants(sql: str, n: int) -> list[str]:
    """Up to n distinct texts of the statement's shape with other values for its lifted literals (each string's
    last character and each number's last digit changed, equal values alike): for benchmarks and tests."""
    shape = lift(sql)
    if shape is None:
        return []
    out: dict[str, None] = {}
    letters = "abcdefghijklmnopqrstuvwxyz"
    for k in range(1, n + 1):
        pieces, pos = [], 0
        for c in shape.constants:
            if c.kind == "s":
                value = c.value[:-1] + letters[k % 26] + "x" * (k // 26) if c.value else "x" * k
                text = "'" + value.replace("'", "''") + "'"
            else:
                text = c.value[:-1] + str((int(c.value[-1]) + k) % 10)
            pieces += [sql[pos : c.start], text]
            pos = c.end + 1
        variant = "".join([*pieces, sql[pos:]])
        if variant != sql:
            out[variant] = None
    return list(out)


def _byte_to_char(sql: str) -> Any:
    """pglast's parse tree locations are UTF-8 byte offsets, its scanner's are character offsets."""
    if sql.isascii():
        return lambda b: b
    table: dict[int, int] = {}
    offset = 0
    for i, ch in enumerate(sql):
        table[offset] = i
        offset += len(ch.encode("utf-8"))
    return lambda b: table.get(b, -1)


def _const(node: Any, casts: bool = True) -> dict[str, Any] | None:
    """The A_Const of a literal operand (possibly under one cast to a plain scalar type), else None."""
    if not isinstance(node, dict):
        return None
    c = node.get("A_Const")
    if c is not None:
        return c if not c.get("isnull") and ("sval" in c or "ival" in c or "fval" in c) else None
    cast = node.get("TypeCast")
    if casts and cast is not None:
        tn = cast.get("typeName") or {}
        names = tn.get("names") or []
        last = names[-1].get("String", {}).get("sval") if names else None
        if last in _CAST_TYPES and not tn.get("arrayBounds"):
            return _const(cast.get("arg"), casts=False)
    return None


def _is_const(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    return "A_Const" in node or ("TypeCast" in node and _is_const(node["TypeCast"].get("arg")))


def _take(node: Any, found: dict[int, dict[str, Any]], typed: set[int] | None = None) -> None:
    """Lift the constant `node` is, if it is one; `typed`: it is a CASE result, whose type is the CASE's."""
    c = _const(node)
    if c is not None and isinstance(c.get("location"), int):
        found[c["location"]] = c
        if typed is not None:
            typed.add(c["location"])


def _walk(obj: Any, found: dict[int, dict[str, Any]], typed: set[int]) -> None:
    if isinstance(obj, list):
        for v in obj:
            _walk(v, found, typed)
        return
    if not isinstance(obj, dict):
        return
    for k, v in obj.items():
        if k == "A_Expr" and isinstance(v, dict):
            _a_expr(v, found)
        elif k == "CaseExpr" and isinstance(v, dict):
            for w in v.get("args") or []:
                when = w.get("CaseWhen") or {}
                if v.get("arg") is not None and not _is_const(v["arg"]):
                    _take(when.get("expr"), found)  # CASE x WHEN 'a' …
                _take(when.get("result"), found, typed)
            _take(v.get("defresult"), found, typed)
        if isinstance(v, (dict, list)):
            _walk(v, found, typed)


def _a_expr(e: dict[str, Any], found: dict[int, dict[str, Any]]) -> None:
    kind = e.get("kind")
    left, right = e.get("lexpr"), e.get("rexpr")
    if left is None or right is None:
        return
    left_const, right_const = _is_const(left), _is_const(right)
    if left_const and right_const:
        return  # `1 = 0` is a constant the compiler folds (WHERE false): part of the key
    if kind == "AEXPR_OP":
        names = e.get("name") or []
        op = names[0].get("String", {}).get("sval") if len(names) == 1 else None
        if op in _COMPARISONS:
            _take(left if left_const else right, found)
    elif kind in _PATTERN_KINDS and not left_const:
        _take(right, found)
    elif kind in _LIST_KINDS and not left_const:
        items = right.get("List", {}).get("items") if isinstance(right, dict) else right
        for item in items or []:
            _take(item, found)


# -- templates ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShapeTemplate:
    """The compiled shape: the SQL split around its lifted literals, and everything else of the CompiledQuery."""

    parts: tuple[str, ...]  # len(slots) + 1 pieces of SQL text
    slots: tuple[int, ...]  # which constant goes between parts[i] and parts[i + 1]
    query: CompiledQuery  # columns, parameter types, … (its sql is the first statement's)
    dialect: str

    def fill(self, shape: Shape) -> CompiledQuery:
        lits = [render_literal(c, self.dialect) for c in shape.constants]
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            out.append(lits[slot])
            out.append(part)
        q = self.query
        return CompiledQuery("".join(out), q.columns, q.param_types, q.empty, q.param_order)


@cache
def _generators(dialect: str) -> tuple[Generator, type[Generator]]:
    d = Dialect.get_or_raise(target_dialect(dialect))
    base: type[Generator] = d.generator_class

    class Marked(base):  # type: ignore[valid-type, misc]  # sqlglot's generator classes are built per dialect
        def literal_sql(self, expression: exp.Literal) -> str:
            meta = expression._meta
            slot = meta.get(SLOT) if meta else None
            if slot is not None:
                return f"{_MARK}{slot}{_MARK}"
            return str(super().literal_sql(expression))

    return base(dialect=d), Marked


def render_literal(c: Constant, dialect: str) -> str:
    """A lifted literal as the dialect's generator renders it (stateless: one generator serves all threads)."""
    gen, _ = _generators(dialect)
    lit = exp.Literal(this=c.value, is_string=c.kind == "s")  # digits only: never a negative number
    return str(gen.literal_sql(lit))


def tag(tree: exp.Expression, shape: Shape) -> bool:
    """Mark each lifted constant's Literal node with its slot; False when one is not found as pglast read it."""
    by_end: dict[int, exp.Literal] = {}
    for lit in tree.find_all(exp.Literal):
        end = lit.meta.get("end")
        if isinstance(end, int):
            if end in by_end:
                return False
            by_end[end] = lit
    for i, c in enumerate(shape.constants):
        lit_ = by_end.get(c.end)
        if lit_ is None or lit_.is_string != (c.kind == "s") or lit_.this != c.value:
            return False
        lit_.meta[SLOT] = i
    return True


def render_template(
    tree: exp.Expression,
    shape: Shape,
    query: CompiledQuery,
    dialect: str,
    prepare: Callable[[exp.Expression], exp.Expression],
) -> ShapeTemplate | None:
    """Render the final tree once with a marker per tagged literal: the shape's template, whose `query.sql` is
    this statement's SQL. None when the rendering does not carry every lifted literal as a node of its own.
    `prepare(tree)` gives a private copy to render (the dialect's parameter markers); rendering errors
    propagate."""
    tagged = [(n, n.meta[SLOT]) for n in tree.find_all(exp.Literal) if n._meta and n._meta.get(SLOT) is not None]
    saved = [(n, n.this) for n, _ in tagged]
    for n, slot in tagged:
        kind = shape.constants[slot].kind
        n.set("this", _POISON[kind[0]])
    try:
        _, marked_cls = _generators(dialect)
        gen = marked_cls(dialect=Dialect.get_or_raise(target_dialect(dialect)), unsupported_level=ErrorLevel.RAISE)
        marked = str(gen.generate(prepare(tree), copy=False))
    finally:
        for n, v in saved:
            n.set("this", v)
    pieces = _MARKED.split(marked)
    parts, slots = tuple(pieces[0::2]), tuple(int(s) for s in pieces[1::2])
    # Every value must reach the SQL: a dropped literal is fine when an equal one (same class) is rendered,
    # as the binder does with a CASE written in SELECT and in GROUP BY.
    classes = shape.key[1]
    if {classes[s] for s in slots} != set(classes) or any(p in marked for p in _POISON.values()):
        return None
    template = ShapeTemplate(parts, slots, query, dialect)
    q = template.fill(shape)
    return ShapeTemplate(parts, slots, q, dialect)


__all__ = ["Constant", "Shape", "ShapeTemplate", "lift", "literal_variants", "render_literal", "render_template", "tag"]
