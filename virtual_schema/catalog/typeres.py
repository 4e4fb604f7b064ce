"""PostgreSQL's type resolution for CASE / COALESCE / UNION / GREATEST (parse_coerce.c's select_common_type).

Drivers read the result type OIDs of catalog answers, so an expression combining a domain column of
information_schema (character_data over varchar) with a text expression must come out as PostgreSQL says
(varchar: the first input's type wins unless it is not preferred and can be coerced implicitly one way
only). Categories, preferred types, domains and implicit casts come from the PostgreSQL 15 snapshot's
pg_type and pg_cast, not from a hand-written table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from virtual_schema.catalog.pgdata import Snapshot, load_snapshot
from virtual_schema.pgtypes import TYPES_BY_OID, PgColumnType

UNKNOWN = 705
TEXT = 25
# information_schema domains: base type and typmod (yes_or_no is varchar(3)).
DOMAIN_BASES: dict[int, PgColumnType] = {
    13221: PgColumnType(23),
    13224: PgColumnType(1043),
    13226: PgColumnType(19),
    13232: PgColumnType(1184, 2),
    13234: PgColumnType(1043, 7),
}


@dataclass(frozen=True)
class TypeRules:
    categories: dict[int, tuple[str, bool]]  # oid -> (typcategory, typispreferred)
    implicit: frozenset[tuple[int, int]]  # (source, target) castcontext 'i'
    domains: dict[int, PgColumnType]

    def base(self, t: PgColumnType) -> PgColumnType:
        """A domain's base type and typmod (what PostgreSQL sends in RowDescription); others unchanged."""
        return self.domains.get(t.oid, t)

    def category(self, oid: int) -> tuple[str, bool]:
        got = self.categories.get(oid)
        if got is not None:
            return got
        pt = TYPES_BY_OID.get(oid)
        return (pt.category, False) if pt is not None else ("U", False)

    def can_coerce(self, src: int, dst: int) -> bool:
        """can_coerce_type(COERCION_IMPLICIT) for built-in types (unknown literals coerce to anything)."""
        if src in (dst, UNKNOWN):
            return True
        if (src, dst) in self.implicit:
            return True
        return bool(self.category(src)[0] == "A" and dst == 2277)

    def common(self, inputs: list[PgColumnType | None]) -> PgColumnType:
        """select_common_type + select_common_typmod; None is an unknown-type literal (or NULL)."""
        types = [UNKNOWN if t is None else t.oid for t in inputs]
        if types and types[0] != UNKNOWN and all(t == types[0] for t in types):
            return self.base(PgColumnType(types[0], _common_typmod(inputs, types[0])))
        ptype = self.domains[types[0]].oid if types and types[0] in self.domains else (types[0] if types else UNKNOWN)
        pcat, ppref = self.category(ptype)
        for t in types[1:]:
            ntype = self.domains[t].oid if t in self.domains else t
            if ntype in (UNKNOWN, ptype):
                continue
            ncat, npref = self.category(ntype)
            if ptype == UNKNOWN:
                ptype, pcat, ppref = ntype, ncat, npref
            elif ncat != pcat:
                continue  # PostgreSQL raises "types cannot be matched"; keep the first
            elif not ppref and self.can_coerce(ptype, ntype) and not self.can_coerce(ntype, ptype):
                ptype, pcat, ppref = ntype, ncat, npref
        if ptype == UNKNOWN:
            return PgColumnType(TEXT)
        return PgColumnType(ptype, _common_typmod(inputs, ptype))


def _common_typmod(inputs: list[PgColumnType | None], oid: int) -> int:
    """select_common_typmod: the inputs' typmod when all have the common type and agree, else -1."""
    mods = {t.typmod for t in inputs if t is not None and t.oid == oid}
    if any(t is None or t.oid != oid for t in inputs) or len(mods) != 1:
        return -1
    return mods.pop()


@cache
def type_rules() -> TypeRules:
    return _build(load_snapshot())


def _build(snap: Snapshot) -> TypeRules:
    cats: dict[int, tuple[str, bool]] = {}
    rel = snap.relations.get(("pg_catalog", "pg_type"))
    if rel is not None:
        names = [c.name for c in rel.columns]
        oi, ci, pi = names.index("oid"), names.index("typcategory"), names.index("typispreferred")
        for r in snap.rows.get("pg_catalog.pg_type", []):
            cats[int(r[oi])] = (str(r[ci]), bool(r[pi]))
    implicit: set[tuple[int, int]] = set()
    rel = snap.relations.get(("pg_catalog", "pg_cast"))
    if rel is not None:
        names = [c.name for c in rel.columns]
        si, ti, ki = names.index("castsource"), names.index("casttarget"), names.index("castcontext")
        for r in snap.rows.get("pg_catalog.pg_cast", []):
            if r[ki] == "i":
                implicit.add((int(r[si]), int(r[ti])))
    return TypeRules(cats, frozenset(implicit), dict(DOMAIN_BASES))


def literal_type(text: str) -> PgColumnType:
    """The type PostgreSQL's scanner gives a numeric constant: int4, int8 when larger, else numeric."""
    if text.isdigit():
        v = int(text)
        if v < 2**31:
            return PgColumnType(23)
        if v < 2**63:
            return PgColumnType(20)
    return PgColumnType(1700)


__all__ = ["DOMAIN_BASES", "TypeRules", "literal_type", "type_rules"]
