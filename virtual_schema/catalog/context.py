"""One immutable catalog version: the relations, names and OIDs translation and functions look up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from virtual_schema.catalog.pgdata import RelColumn, Snapshot, SystemRelation
from virtual_schema.catalog.populate import CatalogRows
from virtual_schema.schema import VirtualSchema

DUCK_DB = "pgcat"
SCHEMA_ALIAS = {"pg_catalog": "pgc", "information_schema": "isc"}
# Views whose rows depend on the asking session: materialized per connection before each query.
SESSION_RELATIONS = frozenset({("pg_catalog", "pg_settings"), ("pg_catalog", "pg_stat_activity")})


_KEYWORD_COLUMNS = {  # pg_get_keywords()'s result columns
    n: RelColumn(n, oid, -1, i, True, tn)
    for i, (n, oid, tn) in enumerate(
        (
            ("word", 25, "text"),
            ("catcode", 18, "char"),
            ("barelabel", 16, "bool"),
            ("catdesc", 25, "text"),
            ("baredesc", 25, "text"),
        ),
        start=1,
    )
}


@dataclass
class CatalogVersion:
    version: int
    schema: VirtualSchema
    snapshot: Snapshot
    rows: CatalogRows
    database: str
    users: tuple[str, ...]
    rel_by_name: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # relname -> [(nsp, relname)]
    class_by_name: dict[tuple[str, str], int] = field(default_factory=dict)  # (nsp, relname) -> oid
    type_by_name: dict[str, int] = field(default_factory=dict)
    proc_by_name: dict[str, int] = field(default_factory=dict)
    descriptions: dict[tuple[int, int, int], str] = field(default_factory=dict)  # (objoid, classoid, subid)
    constraints: dict[int, dict[str, Any]] = field(default_factory=dict)
    indexes: dict[int, dict[str, Any]] = field(default_factory=dict)
    attnames: dict[tuple[int, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for nsp, name in self.snapshot.relations:
            self.rel_by_name.setdefault(name, []).append((nsp, name))
        for oid, (nsp, name) in self.rows.rel_names.items():
            self.class_by_name[(nsp, name)] = oid
        for oid, (name, _elem, _nsp) in self.rows.type_names.items():
            self.type_by_name.setdefault(name, oid)
        for oid, name in sorted(self.rows.proc_names.items()):
            self.proc_by_name.setdefault(name, oid)

    def system_relation(self, nsp: str, name: str) -> SystemRelation | None:
        return self.snapshot.relations.get((nsp, name))

    def column_type(self, nsp: str, rel: str, col: str) -> RelColumn | None:
        if rel == "__keywords":
            return _KEYWORD_COLUMNS.get(col)
        r = self.snapshot.relations.get((nsp, rel))
        return r.column(col) if r is not None else None
