"""Inner joins that only filter a virtual table: `vt JOIN (derived) ON vt.k = d.k` → `WHERE k IN (SELECT …)`.

Superset's "top-k series" chart joins a semantic query with a semantic subquery that picks the top k values
of a dimension, and uses the subquery's columns nowhere but in the join condition. When the derived table has
at most one row per join key (a semantic query has one row per grain; SELECT DISTINCT one per row), the inner
join keeps each base row whose keys are in the derived table exactly once, so the statement is a semantic
query over the one virtual table with `(keys) IN (SELECT keys FROM derived)` in WHERE: its metrics aggregate
over the kept base rows, which is what the join computes over the physical tables. (Joined the other way, as
a semantic subquery at the grain of the columns used, an average or a distinct count would be re-aggregated.)
A single key may be compared null-safely (Tableau's `IS NOT DISTINCT FROM`, Power BI's `a = b OR a IS NULL AND
b IS NULL`): a NULL key is then kept when the derived table has a NULL key too. Anything else (outer joins,
other conditions, several null-safe keys, derived columns used elsewhere, keys that could repeat) is left to
the general join handling.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from virtual_schema.compiler.bind import TableInfo, _figure_name, ambiguous, position

UNIQUE_KEYS = "unique_keys"  # SELECT meta: per grain key, the output names that carry it (one row per grain)


def filtering_join(sel: exp.Select, vt: exp.Table, info: TableInfo) -> bool:
    """Rewrite sel in place when every join is an inner join that only filters `vt` (see the module)."""
    from_ = sel.args.get("from_")
    joins: list[exp.Join] = list(sel.args.get("joins") or [])
    if from_ is None or not joins or any(not _inner(j) for j in joins):
        return False
    derived = [s for s in [from_.this, *(j.this for j in joins)] if s is not vt]
    if not all(isinstance(d, exp.Subquery) and isinstance(d.this, exp.Select) and d.alias for d in derived):
        return False
    outputs = {d.alias: {_figure_name(i) for i in d.this.expressions} for d in derived}
    keys = _join_keys([c for j in joins for c in _conjuncts(j.args.get("on"))], vt, info, outputs)
    if keys is None or set(keys) != set(outputs):
        return False
    by_alias = {d.alias: d for d in derived}
    if any(not _unique_on(by_alias[a].this, {_name(k.derived) for k in pairs}) for a, pairs in keys.items()):
        return False
    if any(len(pairs) > 1 and any(k.null_safe for k in pairs) for pairs in keys.values()):
        return False
    if _used_elsewhere(sel, joins, derived, vt, info, outputs):
        return False
    conds = [_in_subquery(by_alias[a], pairs) for a, pairs in keys.items()]
    sel.set("joins", None)
    sel.set("from_", exp.From(this=vt))
    for c in conds:
        sel.where(c, copy=False)
    return True


def _inner(j: exp.Join) -> bool:
    return not j.side and j.kind in ("", "INNER") and j.args.get("on") is not None and not j.args.get("using") \
        and not j.args.get("method")


def _conjuncts(e: exp.Expression | None) -> list[exp.Expression]:
    while isinstance(e, exp.Paren):
        e = e.this
    if e is None:
        return []
    if isinstance(e, exp.And):
        return _conjuncts(e.this) + _conjuncts(e.expression)
    return [e]


def _name(c: exp.Column) -> str:
    """The column's name as PostgreSQL reads it (unquoted folds to lower case)."""
    return c.name if c.this.quoted else c.name.lower()


def _owner(e: exp.Expression, vt: exp.Table, info: TableInfo, outputs: dict[str, set[str]]) -> str | None:
    """"" for a column of the virtual table, a derived table's alias for one of its columns, else None."""
    if not isinstance(e, exp.Column) or isinstance(e.this, exp.Star):
        return None
    in_vt = info.lookup(e.name, bool(e.this.quoted)) is not None
    if e.table:
        if e.table in (vt.alias_or_name, vt.name) or e.table.lower() in (vt.alias_or_name.lower(), vt.name.lower()):
            return "" if in_vt else None
        return e.table if _name(e) in outputs.get(e.table, set()) else None
    holders = [a for a, names in outputs.items() if _name(e) in names]
    if len(holders) + in_vt > 1:
        raise ambiguous(e.name, position(e))
    return "" if in_vt else (holders[0] if holders else None)


@dataclass(frozen=True)
class Key:
    virtual: exp.Column  # a column of the virtual table
    derived: exp.Column  # the derived table's column it is compared with
    null_safe: bool  # NULL matches NULL


def _compared(c: exp.Expression) -> tuple[exp.Expression, exp.Expression, bool] | None:
    """(a, b, null-safe) for `a = b`, `a IS NOT DISTINCT FROM b` and `a = b OR a IS NULL AND b IS NULL`."""
    while isinstance(c, exp.Paren):
        c = c.this
    if isinstance(c, exp.EQ):
        return c.this, c.expression, False
    if isinstance(c, exp.NullSafeEQ):
        return c.this, c.expression, True
    if isinstance(c, exp.Or):
        eq, both = c.this, c.expression
        while isinstance(both, exp.Paren):
            both = both.this
        if isinstance(eq, exp.EQ) and isinstance(both, exp.And):
            nulls = [x.this for x in (both.this, both.expression) if isinstance(x, exp.Is) and isinstance(
                x.expression, exp.Null)]
            if len(nulls) == 2 and {nulls[0].sql(), nulls[1].sql()} == {eq.this.sql(), eq.expression.sql()}:
                return eq.this, eq.expression, True
    return None


def _join_keys(conds: list[exp.Expression], vt: exp.Table, info: TableInfo, outputs: dict[str, set[str]]
               ) -> dict[str, list[Key]] | None:
    """Per derived alias, the keys the condition compares; None when any conjunct is something else."""
    keys: dict[str, list[Key]] = {}
    for c in conds:
        got = _compared(c)
        if got is None:
            return None
        left, right, null_safe = got
        lo, ro = _owner(left, vt, info, outputs), _owner(right, vt, info, outputs)
        if lo == "" and ro:
            pair = (left, right)
        elif ro == "" and lo:
            pair = (right, left)
        else:
            return None
        assert isinstance(pair[0], exp.Column) and isinstance(pair[1], exp.Column)
        keys.setdefault(ro or lo or "", []).append(Key(pair[0], pair[1], null_safe))
    return keys


def _unique_on(sel: exp.Select, names: set[str]) -> bool:
    """The derived SELECT has at most one row per combination of the named output columns."""
    keys: list[set[str]] | None = sel.meta.get(UNIQUE_KEYS) if sel._meta else None
    distinct = sel.args.get("distinct")
    if keys is None and distinct is not None and not distinct.args.get("on"):
        keys = [{_figure_name(i)} for i in sel.expressions]
    return keys is not None and all(k & names for k in keys)


def _used_elsewhere(sel: exp.Select, joins: list[exp.Join], derived: list[exp.Expression], vt: exp.Table,
                    info: TableInfo, outputs: dict[str, set[str]]) -> bool:
    """A derived table's column is read outside the join conditions (then the join is more than a filter)."""
    skip = {id(n) for j in joins for n in j.args["on"].walk()} | {id(n) for d in derived for n in d.walk()}
    for c in sel.find_all(exp.Column):
        if id(c) in skip:
            continue
        if c.table in outputs:
            return True
        if not c.table and not isinstance(c.this, exp.Star) and info.lookup(c.name, bool(c.this.quoted)) is None \
                and any(_name(c) in names for names in outputs.values()):
            return True
    return False


def _in_subquery(d: exp.Expression, keys: list[Key]) -> exp.Expression:
    """`vt_key IN (SELECT d.key FROM (derived) AS d)`, a tuple of keys for several; a null-safe key also
    `OR (vt_key IS NULL AND EXISTS (SELECT 1 FROM (derived) AS d WHERE d.key IS NULL))`."""
    alias = d.args["alias"].this
    lhs = [k.virtual.copy() for k in keys]
    derived = [exp.column(k.derived.this.copy(), table=alias.copy()) for k in keys]
    null_part = None
    if keys[0].null_safe:  # one key only (filtering_join)
        null_key = exp.Is(this=derived[0].copy(), expression=exp.Null())
        has_null = exp.select("1").from_(d.copy(), copy=False).where(null_key, copy=False)
        null_part = exp.and_(exp.Is(this=lhs[0].copy(), expression=exp.Null()), exp.Exists(this=has_null))
    inner = exp.select(*derived).from_(d, copy=False)
    this = lhs[0] if len(lhs) == 1 else exp.Tuple(expressions=lhs)
    found: exp.Expression = exp.In(this=this, query=exp.Subquery(this=inner))
    return exp.Paren(this=exp.or_(found, null_part)) if null_part is not None else found


__all__ = ["UNIQUE_KEYS", "filtering_join"]
