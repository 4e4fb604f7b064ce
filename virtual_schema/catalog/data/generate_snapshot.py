"""Regenerate pg15_catalog.json.gz from a fresh PostgreSQL 15 cluster.

The catalog engine mirrors PostgreSQL's own catalog definitions (every pg_catalog / information_schema
relation with its real OID, columns and types) and the built-in rows clients look up (pg_type,
pg_proc, pg_am, ...). Copying them from a real server keeps names, OIDs and types exact.

Usage: python -m virtual_schema.catalog.data.generate_snapshot "host=127.0.0.1 port=5432 user=postgres"
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import psycopg

OUT = Path(__file__).with_name("pg15_catalog.json.gz")

# Built-in rows copied verbatim (filtered where a WHERE clause is given).
STATIC_ROWS: dict[str, str] = {
    "pg_catalog.pg_type": "",
    "pg_catalog.pg_proc": "",
    "pg_catalog.pg_am": "",
    "pg_catalog.pg_range": "",
    "pg_catalog.pg_collation": "",
    "pg_catalog.pg_tablespace": "",
    "pg_catalog.pg_language": "",
    "pg_catalog.pg_extension": "",
    "pg_catalog.pg_namespace": "",
    "pg_catalog.pg_opclass": "",
    "pg_catalog.pg_operator": "",
    "pg_catalog.pg_cast": "",
    "pg_catalog.pg_aggregate": "",
    "pg_catalog.pg_ts_config": "",
    "pg_catalog.pg_conversion": "",
    "pg_catalog.pg_description": "WHERE classoid IN ('pg_type'::regclass, 'pg_namespace'::regclass, "
    "'pg_am'::regclass, 'pg_language'::regclass)",
    "information_schema.sql_implementation_info": "",
    "information_schema.sql_sizing": "",
    "information_schema.sql_features": "",
    "information_schema.sql_parts": "",
    "pg_catalog.pg_settings": "",
}


def _column_expr(name: str, typname: str) -> str:
    q = '"' + name + '"'
    if typname in (
        "regproc",
        "regclass",
        "regtype",
        "regprocedure",
        "regoper",
        "regoperator",
        "regconfig",
        "regdictionary",
        "regnamespace",
        "regrole",
        "regcollation",
    ):
        return f"{q}::oid"
    if typname == "int2vector":
        return f"{q}::int2[]"
    if typname == "oidvector":
        return f"{q}::oid[]"
    if typname in (
        "pg_node_tree",
        "aclitem",
        "anyarray",
        "pg_lsn",
        "xid8",
        "pg_ndistinct",
        "pg_dependencies",
        "pg_mcv_list",
        "inet",
    ):
        return f"{q}::text"
    if typname in ("_aclitem",):
        return f"{q}::text[]"
    return q


def main(dsn: str) -> None:
    out: dict[str, Any] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        rels = conn.execute(
            """SELECT c.oid, n.nspname, c.relname, c.relkind
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname IN ('pg_catalog', 'information_schema') AND c.relkind IN ('r', 'v', 'm')
               ORDER BY n.nspname, c.relname"""
        ).fetchall()
        relations = []
        for oid, nsp, rel, kind in rels:
            cols = conn.execute(
                """SELECT a.attname, a.atttypid, a.atttypmod, a.attnum, a.attnotnull, t.typname
                   FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                   WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
                (oid,),
            ).fetchall()
            relations.append(
                {"oid": oid, "schema": nsp, "name": rel, "relkind": kind, "columns": [list(c) for c in cols]}
            )
        out["relations"] = relations
        by_name = {(r["schema"], r["name"]): r for r in relations}
        # Full pg_class / pg_attribute rows of the system relations themselves.
        extra = {
            "pg_catalog.pg_class": "WHERE relnamespace IN (11, 13207) AND relkind IN ('r', 'v', 'm')",
            "pg_catalog.pg_attribute": "WHERE attnum > 0 AND attrelid IN (SELECT oid FROM pg_class "
            "WHERE relnamespace IN (11, 13207) AND relkind IN ('r', 'v', 'm'))",
        }
        rows: dict[str, Any] = {}
        for qual, where in {**STATIC_ROWS, **extra}.items():
            nsp, rel = qual.split(".")
            meta = by_name[(nsp, rel)]
            exprs = ", ".join(_column_expr(c[0], c[5]) for c in meta["columns"])
            data = conn.execute(f"SELECT {exprs} FROM {qual} {where}").fetchall()
            rows[qual] = [[_jsonable(v) for v in r] for r in data]
        out["rows"] = rows
        out["keywords"] = [list(r) for r in conn.execute("SELECT * FROM pg_get_keywords() ORDER BY 1").fetchall()]
        out["server_version"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    with gzip.open(OUT, "wt", encoding="utf-8") as f:
        json.dump(out, f, separators=(",", ":"))


def _jsonable(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


if __name__ == "__main__":
    main(sys.argv[1])
