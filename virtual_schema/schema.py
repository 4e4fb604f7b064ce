"""What clients see: virtual tables and columns with PostgreSQL types, and result column shapes.

The compiler builds a VirtualSchema from the loaded semantic models plus the warehouse's physical
column types; the pg_catalog emulation renders it into pg_class / pg_attribute / information_schema;
the router uses it to tell semantic queries from catalog queries. OIDs are derived from names so
they survive restarts (drivers and BI tools cache them).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from enum import StrEnum

from virtual_schema.pgtypes import PgColumnType

# OIDs below 16384 are PostgreSQL's own; user objects start at FirstNormalObjectId.
FIRST_USER_OID = 16384
_OID_SPAN = 2**31 - FIRST_USER_OID - 1


def stable_oid(*parts: str) -> int:
    """An OID for a user object that is the same on every start (CRC32 of its qualified name)."""
    key = "\x00".join(parts).encode()
    return FIRST_USER_OID + (zlib.crc32(key) % _OID_SPAN)


class ColumnKind(StrEnum):
    ENTITY = "entity"
    DIMENSION = "dimension"
    TIME_DIMENSION = "time_dimension"
    METRIC = "metric"
    MEASURE = "measure"


@dataclass(frozen=True, slots=True)
class VirtualColumn:
    name: str
    type: PgColumnType
    kind: ColumnKind
    description: str | None = None
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A foreign entity of one model that is the primary/unique entity of another."""

    name: str  # constraint name
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VirtualTable:
    name: str
    columns: tuple[VirtualColumn, ...]
    schema: str = "public"
    description: str | None = None
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    row_estimate: float = -1.0  # pg_class.reltuples; -1 = unknown, as PostgreSQL says for never-analyzed

    @property
    def oid(self) -> int:
        return stable_oid(self.schema, self.name)

    def column(self, name: str) -> VirtualColumn | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None


@dataclass(frozen=True, slots=True)
class VirtualSchema:
    """Every table clients can query, at one model version."""

    tables: tuple[VirtualTable, ...]
    version: int = 0  # bumped on every reload; part of plan-cache keys
    by_name: dict[str, VirtualTable] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.by_name:
            self.by_name.update({t.name: t for t in self.tables})

    def table(self, name: str) -> VirtualTable | None:
        return self.by_name.get(name)


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """One field of a RowDescription."""

    name: str
    type: PgColumnType
    table_oid: int = 0
    attnum: int = 0
