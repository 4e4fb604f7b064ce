"""The catalog engine: pg_catalog and information_schema as real tables in an in-process DuckDB.

One DuckDB database per engine holds every emulated relation (attached in-memory database `pgcat`,
schemas `pgc` = pg_catalog and `isc` = information_schema, so DuckDB's own pg_catalog views are never
seen). A model reload rebuilds the tables inside one transaction: sessions see the old or the new
version, never a mix. Each CatalogSession has its own DuckDB connection (cursor), which gives it
connection-local temp tables and per-session macros (current_user, pgf_sid()).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from virtual_schema import errors as E
from virtual_schema.catalog import formatting as F
from virtual_schema.catalog import functions
from virtual_schema.catalog.api import SessionInfo
from virtual_schema.catalog.context import DUCK_DB, SCHEMA_ALIAS, CatalogVersion
from virtual_schema.catalog.pgdata import SystemRelation, arrow_type, duck_type, load_snapshot
from virtual_schema.catalog.populate import build_rows, role_oid, temp_information_schema_rows
from virtual_schema.catalog.results import result_columns
from virtual_schema.catalog.sessioncmds import SessionCommands
from virtual_schema.catalog.translate import Plan, Translator, parse
from virtual_schema.errors import PgError
from virtual_schema.pgtypes import UNCONSTRAINED_SCALE, PgColumnType, pg_type_for_arrow
from virtual_schema.schema import ColumnKind, ResultColumn, VirtualColumn, VirtualSchema, VirtualTable, stable_oid

_sids = itertools.count(1)


@dataclass(frozen=True)
class CatalogDescription:
    columns: tuple[ResultColumn, ...]
    param_types: tuple[PgColumnType, ...]


@dataclass
class CatalogResult:
    columns: tuple[ResultColumn, ...]
    batches: Iterator[pa.RecordBatch] | list[pa.RecordBatch]
    command_tag: str
    rowcount: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _convert(value: Any, type_oid: int) -> Any:
    if value is None:
        return None
    d = duck_type(type_oid, "")
    if d in ("TIMESTAMPTZ", "TIMESTAMP") and isinstance(value, str):
        try:
            v = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return v.astimezone(dt.UTC).replace(tzinfo=None) if d == "TIMESTAMPTZ" and v.tzinfo else v
    if d == "INTERVAL" or d == "BLOB":
        return None
    if d == "VARCHAR" and not isinstance(value, str):
        return str(value)
    if d in ("UINTEGER", "INTEGER", "SMALLINT", "BIGINT") and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return value


def arrow_table(rel: SystemRelation, rows: list[list[Any]]) -> pa.Table:
    arrays = []
    for i, c in enumerate(rel.columns):
        t = arrow_type(c.type_oid)
        d = duck_type(c.type_oid, c.typname)
        vals = [r[i] for r in rows]
        if d in ("TIMESTAMPTZ", "TIMESTAMP", "INTERVAL", "BLOB"):
            vals = [_convert(v, c.type_oid) for v in vals]
        try:
            if pa.types.is_timestamp(t):
                t = pa.timestamp("us")
            arrays.append(pa.array(vals, type=t))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([_convert(v, c.type_oid) for v in vals], type=t))
    return pa.Table.from_arrays(arrays, names=[c.name for c in rel.columns])


@functools.cache
def _static_arrow(key: str) -> pa.Table:
    """Arrow copy of a built-in (snapshot) relation, shared by every engine in the process."""
    snap = load_snapshot()
    nsp, name = key.split(".", 1)
    return arrow_table(snap.relations[(nsp, name)], snap.rows[key])


@dataclass(frozen=True)
class Relations:
    """Relations a statement reads: catalog ones (schema, name) and every other name (models, temp tables)."""

    catalog: tuple[tuple[str, str], ...]
    other: tuple[str, ...]


def classify_relations(sql: str) -> Relations:
    """Which relations a statement references (CTE names excluded), with pg_catalog implicitly first."""
    snap = load_snapshot()
    catalog: list[tuple[str, str]] = []
    other: list[str] = []
    for tree in parse(sql):
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        for t in tree.find_all(exp.Table):
            if not isinstance(t.this, exp.Identifier):
                continue
            name = t.name if t.this.quoted else t.name.lower()
            db = t.db.lower() if t.db else None
            if db is None and name.lower() in ctes:
                continue
            if db in ("pg_catalog", "information_schema") and (db, name) in snap.relations:
                catalog.append((db, name))
            elif db is None and ("pg_catalog", name) in snap.relations:
                catalog.append(("pg_catalog", name))
            else:
                other.append(name)
    return Relations(tuple(dict.fromkeys(catalog)), tuple(dict.fromkeys(other)))


class CatalogEngine:
    """Owns the DuckDB catalog database and the current catalog version."""

    def __init__(
        self,
        schema: VirtualSchema,
        *,
        database: str = "semantic",
        users: Sequence[str] = ("demo",),
        server_version: str = "15.0",
    ) -> None:
        self.database = database
        self.users = tuple(users) or ("demo",)
        self.server_version = server_version
        self.started = dt.datetime.now(dt.UTC)
        self.snapshot = load_snapshot()
        rel = self.snapshot.relations[("pg_catalog", "pg_settings")]
        names = [c.name for c in rel.columns]
        ni, si = names.index("name"), names.index("setting")
        self.boot_settings = {r[ni].lower(): r[si] for r in self.snapshot.rows.get("pg_catalog.pg_settings", [])}
        self.conn = duckdb.connect(":memory:", config={"threads": 1})
        self.conn.execute(f"ATTACH ':memory:' AS {DUCK_DB}")
        for s in SCHEMA_ALIAS.values():
            self.conn.execute(f"CREATE SCHEMA {DUCK_DB}.{s}")
        self._lock = threading.RLock()
        self._sessions: dict[int, CatalogSession] = {}
        self._version_counter = 0
        self._loaded: dict[str, list[list[Any]]] = {}
        # Translations and descriptions of statements that read only catalog relations, keyed by
        # (sql, catalog version, search_path[, param types]); dict operations are atomic under the GIL.
        self.shared_plans: dict[tuple[str, int, tuple[str, ...]], Plan] = {}
        self.shared_descriptions: dict[tuple[str, int, tuple[str, ...], tuple[int, ...]], CatalogDescription] = {}
        self.current: CatalogVersion = self._build(schema)
        self._create_tables()
        self._load(self.current)
        functions.register(self.conn, self)

    # ------------------------------------------------------------------ versions
    def _build(self, schema: VirtualSchema) -> CatalogVersion:
        self._version_counter += 1
        rows = build_rows(self.snapshot, schema, database=self.database, users=self.users)
        cat = CatalogVersion(self._version_counter, schema, self.snapshot, rows, self.database, self.users)
        self._index_objects(cat)
        return cat

    def _index_objects(self, cat: CatalogVersion) -> None:
        rels = self.snapshot.relations
        con_rel = rels[("pg_catalog", "pg_constraint")]
        idx_rel = rels[("pg_catalog", "pg_index")]
        att_rel = rels[("pg_catalog", "pg_attribute")]
        ci = {c.name: i for i, c in enumerate(con_rel.columns)}
        for r in cat.rows.rows["pg_catalog.pg_constraint"]:
            cat.constraints[int(r[ci["oid"]])] = {k: r[i] for k, i in ci.items()}
        ii = {c.name: i for i, c in enumerate(idx_rel.columns)}
        for r in cat.rows.rows["pg_catalog.pg_index"]:
            cat.indexes[int(r[ii["indexrelid"]])] = {k: r[i] for k, i in ii.items()}
        ai = {c.name: i for i, c in enumerate(att_rel.columns)}
        for r in cat.rows.rows["pg_catalog.pg_attribute"]:
            cat.attnames[(int(r[ai["attrelid"]]), int(r[ai["attnum"]]))] = r[ai["attname"]]

    def _create_tables(self) -> None:
        for (nsp, name), rel in self.snapshot.relations.items():
            cols = ", ".join(f"{_ident(c.name)} {duck_type(c.type_oid, c.typname)}" for c in rel.columns)
            self.conn.execute(f"CREATE TABLE {DUCK_DB}.{SCHEMA_ALIAS[nsp]}.{_ident(name)} ({cols})")
        self.conn.execute(
            f"CREATE TABLE {DUCK_DB}.pgc.__keywords (word VARCHAR, catcode VARCHAR, "
            "barelabel BOOLEAN, catdesc VARCHAR, baredesc VARCHAR)"
        )
        kw = [tuple(r) for r in self.snapshot.keywords]
        if kw:
            self.conn.executemany(f"INSERT INTO {DUCK_DB}.pgc.__keywords VALUES (?, ?, ?, ?, ?)", kw)

    def _load(self, cat: CatalogVersion) -> None:
        """Replace every table's rows with this version's, in one transaction."""
        conn = self.conn
        conn.execute("BEGIN")
        try:
            for key, rows in cat.rows.rows.items():
                nsp, name = key.split(".", 1)
                if (nsp, name) not in self.snapshot.relations:
                    continue
                if self._loaded.get(key) is rows:
                    continue  # built-in rows shared by every version: loaded once
                self._loaded[key] = rows
                rel = self.snapshot.relations[(nsp, name)]
                target = f"{DUCK_DB}.{SCHEMA_ALIAS[nsp]}.{_ident(name)}"
                conn.execute(f"DELETE FROM {target}")
                if rows:
                    static = self.snapshot.rows.get(key)
                    tbl = _static_arrow(key) if static is rows else arrow_table(rel, rows)
                    conn.register("__load", tbl)
                    conn.execute(f"INSERT INTO {target} SELECT * FROM __load")
                    conn.unregister("__load")
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise

    def rebuild(self, schema: VirtualSchema) -> None:
        """Atomically swap to a new model version."""
        with self._lock:
            cat = self._build(schema)
            self._load(cat)
            self.current = cat

    def open_session(self, info: SessionInfo) -> CatalogSession:
        with self._lock:
            cur = self.conn.cursor()
        s = CatalogSession(self, cur, info)
        self._sessions[s.sid] = s
        return s

    def session_by_id(self, sid: int) -> CatalogSession:
        return self._sessions[sid]

    def _forget(self, sid: int) -> None:
        self._sessions.pop(sid, None)

    def close(self) -> None:
        for s in list(self._sessions.values()):
            s.close()
        self.conn.close()

    # ------------------------------------------------------------------ helpers used by UDFs
    def reg_out(self, kind: int, oid: int | None) -> str | None:
        if oid is None:
            return None
        if oid == 0:
            return "-"
        cat = self.current
        if kind == 2205:
            n = cat.rows.rel_names.get(oid)
            if n is None:
                return str(oid)
            nsp, rel = n
            return (
                F.quote_ident(rel) if nsp in ("pg_catalog", "public") else f"{F.quote_ident(nsp)}.{F.quote_ident(rel)}"
            )
        if kind == 2206:
            return F.format_type(oid, None, cat.rows.type_names) if oid in cat.rows.type_names else str(oid)
        if kind in (24, 2202):
            if oid == 0:
                return "-"
            return cat.rows.proc_names.get(oid, str(oid))
        if kind == 4089:
            for k, v in cat.rows.namespaces.items():
                if v == oid:
                    return F.quote_ident(k)
            return str(oid)
        if kind == 4096:
            for u in cat.users:
                from virtual_schema.catalog.populate import role_oid

                if role_oid(cat.users, u) == oid:
                    return u
            return str(oid)
        return str(oid)

    def index_def(self, oid: int, col: int) -> str | None:
        cat = self.current
        idx = cat.indexes.get(oid)
        if idx is None:
            return None
        rel = int(idx["indrelid"])
        keys = [int(k) for k in idx["indkey"]]
        names = [cat.attnames.get((rel, k), "") for k in keys]
        if col > 0:
            return F.quote_ident(names[col - 1]) if col <= len(names) else ""
        iname = cat.rows.rel_names.get(oid, ("", ""))[1]
        nsp, tname = cat.rows.rel_names.get(rel, ("", ""))
        unique = "UNIQUE " if idx["indisunique"] else ""
        return (
            f"CREATE {unique}INDEX {F.quote_ident(iname)} ON {F.quote_ident(nsp)}.{F.quote_ident(tname)} "
            f"USING btree ({', '.join(F.quote_ident(n) for n in names)})"
        )

    def constraint_def(self, oid: int) -> str | None:
        cat = self.current
        con = cat.constraints.get(oid)
        if con is None:
            return None
        rel = int(con["conrelid"])
        cols = ", ".join(F.quote_ident(cat.attnames.get((rel, int(k)), "")) for k in con["conkey"] or [])
        if con["contype"] == "p":
            return f"PRIMARY KEY ({cols})"
        if con["contype"] == "u":
            return f"UNIQUE ({cols})"
        if con["contype"] == "f":
            frel = int(con["confrelid"])
            nsp, tname = cat.rows.rel_names.get(frel, ("", ""))
            target = F.quote_ident(tname) if nsp == "public" else f"{F.quote_ident(nsp)}.{F.quote_ident(tname)}"
            fcols = ", ".join(F.quote_ident(cat.attnames.get((frel, int(k)), "")) for k in con["confkey"] or [])
            return f"FOREIGN KEY ({cols}) REFERENCES {target}({fcols})"
        return None


class CatalogSession:
    """One client session's view of the catalog: its own DuckDB connection, temp tables and cursors."""

    def __init__(self, engine: CatalogEngine, cur: duckdb.DuckDBPyConnection, info: SessionInfo) -> None:
        self.engine = engine
        self.cur = cur
        self.info = info
        self.sid = next(_sids)
        self.local_settings: dict[str, str] = {}
        self._reg_seen: dict[tuple[int, str], int] = {}  # (reg* type, name sent) -> oid
        self.temp_tables: set[str] = set()
        # declared PostgreSQL column types of this session's temp tables (varchar(10) stays varchar(10))
        self.temp_columns: dict[str, tuple[tuple[str, PgColumnType], ...]] = {}
        self._plans: dict[tuple[str, int, tuple[str, ...]], Plan] = {}
        self._described: dict[tuple[str, int, tuple[str, ...], tuple[int, ...]], CatalogDescription] = {}
        self.commands = SessionCommands(self)
        self.closed = False
        # Session macros (current_user, pgf_sid(), ...) are created when a statement first needs them:
        # creating all of them up front cost ~15 ms per session, on the event loop.
        self._macros: set[str] = set()
        # in a DuckDB transaction (transaction block with temp-table writes): temp columns and macros before it
        self._tx_saved: tuple[dict[str, tuple[tuple[str, PgColumnType], ...]], set[str]] | None = None
        # counts statements that may have changed temp-table rows: rows read at one count hold until it moves
        self.data_version = 0

    # ------------------------------------------------------------------ transactions
    @property
    def in_transaction(self) -> bool:
        return self._tx_saved is not None

    def begin(self) -> None:
        """Before the first temp-table write of a transaction block: a DuckDB transaction, so that ROLLBACK undoes
        the block's writes, creations and drops as PostgreSQL's does. Blocks that only read stay outside one (a
        snapshot would hide catalog reloads from long-lived JDBC transactions)."""
        if self._tx_saved is not None:
            return
        self.cur.execute("BEGIN TRANSACTION")
        self._tx_saved = (dict(self.temp_columns), set(self._macros))

    def usable(self) -> bool:
        """False when an error has aborted the DuckDB transaction (it then only takes ROLLBACK)."""
        try:
            self.cur.execute("SELECT 1")
        except duckdb.Error:
            return False
        return True

    def end(self, commit: bool) -> None:
        """COMMIT or ROLLBACK the transaction begin() opened; after a rollback (also of a transaction DuckDB
        aborted on an error) the session's temp tables, their declared types and its macros are as before it."""
        saved = self._tx_saved
        if saved is None:
            return
        self._tx_saved = None
        self.data_version += 1
        commit = commit and self.usable()  # DuckDB's COMMIT of an aborted transaction silently rolls back
        self.cur.execute("COMMIT" if commit else "ROLLBACK")
        if not commit:
            self.temp_columns, self._macros = saved
        before = (self.temp_tables, self.temp_columns, set(self._macros))
        rows = self.cur.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
        self.temp_tables = {r[0] for r in rows if not r[0].startswith("__")}
        self.temp_columns = {k: v for k, v in self.temp_columns.items() if k in self.temp_tables}
        if commit and before == (self.temp_tables, self.temp_columns, set(self._macros)):
            return  # rows written, no table or macro came or went: every cached plan still holds (autocommit INSERTs)
        self._plans.clear()
        self._described.clear()
        if self.temp_tables:
            self._build_overlay()

    # ------------------------------------------------------------------ settings
    def setting(self, name: str) -> str | None:
        name = name.lower()
        if name in self.local_settings:
            return self.local_settings[name]
        v = self.info.settings.get(name)
        if v is not None:
            return str(v)
        defaults = {
            "search_path": '"$user", public',
            "server_version": self.info.server_version,
            "server_version_num": _version_num(self.info.server_version),
            "server_encoding": "UTF8",
            "client_encoding": "UTF8",
            "max_identifier_length": "63",
            "integer_datetimes": "on",
            "standard_conforming_strings": "on",
            "datestyle": "ISO, MDY",
            "timezone": "UTC",
            "transaction_isolation": "read committed",
            "default_transaction_read_only": "on",
            "is_superuser": "off",
            "lc_collate": "C.UTF-8",
            "lc_ctype": "C.UTF-8",
            "block_size": "8192",
            "application_name": self.info.application_name,
            "intervalstyle": "postgres",
            "extra_float_digits": "1",
            "bytea_output": "hex",
            "statement_timeout": "0",
            "transaction_read_only": "on",
        }
        if name in defaults:
            return defaults[name]
        return self.engine.boot_settings.get(name)

    def current_setting(self, name: str, missing_ok: bool) -> str | None:
        v = self.setting(name)
        if v is None and not missing_ok:
            raise PgError(E.UNDEFINED_PARAMETER, f'unrecognized configuration parameter "{name}"')
        return v

    def set_config(self, name: str, value: str, is_local: bool) -> str:
        if self.info.set_setting is not None:
            self.info.set_setting(name.lower(), value)
        else:
            self.local_settings[name.lower()] = value
        return self.setting(name) or value

    def search_path(self) -> tuple[str, ...]:
        raw = self.setting("search_path") or "public"
        out: list[str] = []
        for part in raw.split(","):
            p = part.strip()
            if p.startswith('"') and p.endswith('"'):
                p = p[1:-1]
            if p == "$user":
                p = self.info.user
            if p:
                out.append(p)
        return tuple(out)

    def current_schemas(self, implicit: bool) -> list[str]:
        existing = self.engine.current.rows.namespaces
        out = [s for s in self.search_path() if s in existing]
        if implicit and "pg_catalog" not in out:
            out.insert(0, "pg_catalog")
        return out

    def current_schema(self) -> str | None:
        s = self.current_schemas(False)
        return s[0] if s else None

    def temp_oids(self) -> dict[str, int]:
        """This session's temp tables' pg_class OIDs, by name (the overlay's rows carry the same)."""
        return {t: stable_oid("pg_temp", str(self.sid), t) for t in self.temp_tables}

    def relation_visible(self, oid: int) -> bool:
        """pg_table_is_visible: pg_catalog, the search path, and this session's temp tables (PostgreSQL searches
        pg_temp first, implicitly)."""
        n = self.engine.current.rows.rel_names.get(oid)
        if n is None:  # (the temp OIDs are hashed only for a relation the catalog does not hold: \dt asks per row)
            return bool(self.temp_tables) and oid in self.temp_oids().values()
        return n[0] == "pg_catalog" or n[0] in self.current_schemas(True)

    def type_visible(self, oid: int) -> bool:
        t = self.engine.current.rows.type_names.get(oid)
        return t is not None and (t[2] == "pg_catalog" or t[2] in self.current_schemas(True))

    def reg_in(self, kind: int, text: str) -> int:
        return Translator(self.engine.current, self.search_path(), temp_oids=self.temp_oids()).reg_lookup(kind, text)

    def reg_oid(self, kind: int, name: str) -> int:
        """The OID behind a reg* value this session sent as a name: binary result format needs the OID.

        Names from this session's results map back exactly (also overloaded regproc names); other text
        goes through PostgreSQL's reg*in rules. Raises PgError when the name resolves to nothing.
        """
        got = self._reg_seen.get((kind, name))
        return got if got is not None else self.reg_in(kind, name)

    def to_reg(self, kind: int, text: str) -> int | None:
        try:
            return self.reg_in(kind, text)
        except PgError:
            return None

    def version_text(self) -> str:
        return f"PostgreSQL {self.info.server_version} on x86_64-pc-linux-gnu, compiled by gcc (GCC) 12.2.0, 64-bit"

    # ------------------------------------------------------------------ statements
    def plan(self, sql: str) -> Plan:
        cat = self.engine.current
        sp = self.search_path()
        key = (sql, cat.version, sp)
        if self.temp_tables:
            # with temp tables, pg_class & co. are read through this session's overlay views
            plan = self._plans.get(key)
            if plan is None:
                plan = Translator(cat, sp, _OVERLAY, self.temp_columns, self.temp_oids()).translate(sql)
                if len(self._plans) > 4000:
                    self._plans.clear()
                self._plans[key] = plan
        else:
            plan = self._plans.get(key) or self.engine.shared_plans.get(key)
        if plan is None:
            plan = Translator(cat, sp, temp_columns=self.temp_columns).translate(sql)
            # Plans that read only catalog relations are the same for every session: share them.
            cache = self._plans if plan.unknown else self.engine.shared_plans
            if len(cache) > 4000:
                cache.clear()
            cache[key] = plan
        for name, pos in plan.unknown:
            if name not in self.temp_tables:  # exact: "FooBar" is not foobar
                raise PgError(E.UNDEFINED_TABLE, f'relation "{name}" does not exist', position=pos)
        self._ensure_macros(plan.duck_sql)
        return plan

    def _ensure_macros(self, duck_sql: str) -> None:
        low = duck_sql.lower()
        if "pgf_" not in low:
            return
        need = {n for n in functions.SESSION_MACRO_SQL if n + "(" in low} - self._macros
        if not need:
            return
        functions.register_session(
            self.cur,
            sid=self.sid,
            user=self.info.user or self.engine.users[0],
            database=self.info.database or self.engine.database,
            pid=self.info.pid,
            started=self.engine.started.isoformat(),
            only=need,
        )
        self._macros |= need

    def describe(self, sql: str, param_types: Sequence[int] = ()) -> CatalogDescription:
        cmd = self.commands.describe(sql)
        if cmd is not None:
            return cmd
        cat = self.engine.current
        key = (sql, cat.version, self.search_path(), tuple(param_types))
        got = self._described.get(key) or (None if self.temp_tables else self.engine.shared_descriptions.get(key))
        if got is not None:
            return got
        plan = self.plan(sql)
        ptypes = tuple(
            PgColumnType(param_types[i - 1])
            if i - 1 < len(param_types) and param_types[i - 1]
            else PgColumnType(plan.param_hints.get(i, 25))
            for i in range(1, plan.param_count + 1)
        )
        shape = plan if plan.kind == "select" else plan.returning  # a DML's RETURNING rows: its SELECT
        if shape is None:
            desc = CatalogDescription((), ptypes)
        else:
            self._refresh_session_relations(shape)
            try:
                rel = self.cur.sql(shape.duck_sql, params=[None] * len(shape.param_map) or None)
                names = list(rel.columns)  # limit(0) would rename duplicate output names
                empty = rel.limit(0).to_arrow_table()
                schema = pa.schema([f.with_name(n) for f, n in zip(empty.schema, names, strict=True)])
            except duckdb.Error as e:
                raise _pg_error(e, sql) from None
            desc = CatalogDescription(result_columns(shape, schema), ptypes)
        cache = self._described if plan.unknown or plan.overlay else self.engine.shared_descriptions
        if len(cache) > 4000:
            cache.clear()
        cache[key] = desc
        return desc

    def execute(self, sql: str, params: Sequence[object] = ()) -> CatalogResult:
        cmd = self.commands.execute(sql)
        if cmd is not None:
            return cmd
        plan = self.plan(sql)
        if plan.kind == "empty":
            return CatalogResult((), [], "")
        if plan.kind != "select":
            self.data_version += 1
        self._refresh_session_relations(plan)
        args = [_param(params[i - 1]) if i - 1 < len(params) else None for i in plan.param_map] or None
        limits = self._length_limits(plan)
        if limits:
            return self._length_checked(plan, limits, lambda: self._run(plan, sql, args))
        return self._run(plan, sql, args)

    def _run(self, plan: Plan, sql: str, args: list[object] | None) -> CatalogResult:
        try:
            if plan.kind == "select":
                table = self.cur.sql(plan.duck_sql, params=args).to_arrow_table()
            elif plan.returning is not None:
                return self._returning_result(plan, self.cur.sql(plan.duck_sql, params=args).to_arrow_table())
            elif plan.kind in ("dml", "truncate"):
                self.cur.execute(plan.duck_sql, args)
                res = self.cur.fetchall()
                n = int(res[0][0]) if res else 0
                return CatalogResult((), [], _write_tag(plan, n), n)
            else:
                self.cur.execute(plan.duck_sql, args)
                res = self.cur.fetchall()
                self._after_ddl(plan, sql)
                if plan.kind == "insert":
                    n = int(res[0][0]) if res else 0
                    return CatalogResult((), [], _write_tag(plan, n), n)
                if plan.tag == "SELECT":
                    n = self._last_created_count(plan)
                    return CatalogResult((), [], f"SELECT {n}", n)
                return CatalogResult((), [], plan.tag)
        except duckdb.Error as e:
            raise _pg_error(e, sql) from None
        cols = result_columns(plan, table.schema)
        table = self._post_process(plan, table, cols)
        return CatalogResult(cols, table.to_batches(max_chunksize=65536), f"SELECT {table.num_rows}", table.num_rows)

    def _length_limits(self, plan: Plan) -> list[tuple[str, int, str]]:
        """(column, n, type name) of the varchar(n) / char(n) columns an INSERT or UPDATE writes: DuckDB ignores
        the length, PostgreSQL refuses a longer value (22001) unless the excess is spaces (then truncates)."""
        if plan.kind not in ("insert", "dml") or plan.tag == "DELETE" or plan.target is None:
            return []
        out = []
        for col, t in self.temp_columns.get(plan.target, ()):
            if t.oid in (1042, 1043) and t.typmod >= 5:
                out.append((col, t.typmod - 4, "character varying" if t.oid == 1043 else "character"))
        return out

    def _length_checked(self, plan: Plan, limits: list[tuple[str, int, str]],
                        run: Callable[[], CatalogResult]) -> CatalogResult:
        """Run the write, then hold its table to the declared lengths; a statement outside a transaction block
        runs in one of its own, rolled back when a value is too long."""
        own = self._tx_saved is None
        if own:
            self.cur.execute("BEGIN TRANSACTION")
        try:
            result = run()
            table = f"temp.main.{_ident(plan.target or '')}"
            for col, n, tname in limits:
                c = _ident(col)
                bad = self.cur.execute(f"SELECT 1 FROM {table} WHERE length(rtrim({c}, ' ')) > {n} LIMIT 1").fetchall()
                if bad:
                    raise PgError(E.STRING_DATA_RIGHT_TRUNCATION, f"value too long for type {tname}({n})")
                self.cur.execute(f"UPDATE {table} SET {c} = left({c}, {n}) WHERE length({c}) > {n}")
        except BaseException:
            if own:
                self.cur.execute("ROLLBACK")
            raise
        if own:
            self.cur.execute("COMMIT")
        return result

    def _returning_result(self, plan: Plan, table: pa.Table) -> CatalogResult:
        """Rows of INSERT/UPDATE/DELETE … RETURNING, typed as its describing SELECT; the tag counts them."""
        assert plan.returning is not None
        cols = result_columns(plan.returning, table.schema)
        table = self._post_process(plan.returning, table, cols)
        n = table.num_rows
        return CatalogResult(cols, table.to_batches(max_chunksize=65536), _write_tag(plan, n), n)

    def run_query(self, sql: str) -> tuple[tuple[ResultColumn, ...], pa.Table]:
        """Run a SELECT and return it whole (used by DECLARE CURSOR)."""
        plan = self.plan(sql)
        self._refresh_session_relations(plan)
        try:
            table = self.cur.sql(plan.duck_sql).to_arrow_table()
        except duckdb.Error as e:
            raise _pg_error(e, sql) from None
        cols = result_columns(plan, table.schema)
        return cols, self._post_process(plan, table, cols)

    def temp_table(self, name: str) -> tuple[tuple[tuple[str, PgColumnType], ...], pa.Table]:
        """A temp table's declared columns and all its rows (a statement that also reads semantic tables inlines
        them, see gateway/session/temp_inline.py)."""
        try:
            rows = self.cur.sql(f"SELECT * FROM temp.main.{_ident(name)}").to_arrow_table()
        except duckdb.Error as e:
            raise _pg_error(e, name) from None
        return self.temp_columns[name], rows

    def create_temp_table(self, name: str, columns: Sequence[tuple[str, str]]) -> None:
        """CREATE TEMP TABLE name (column type, …) with PostgreSQL type names, declared as given. An unconstrained
        numeric is stored as DOUBLE: on the semantic path it is a double (a numeric division) or a decimal of any
        scale, which the catalog's DECIMAL(38,10) storage would round."""
        self.execute(f"CREATE TEMP TABLE {_ident(name)} (" + ", ".join(f"{_ident(c)} {t}" for c, t in columns) + ")")
        for c, t in columns:
            if t == "numeric":
                self.cur.execute(f"ALTER TABLE temp.main.{_ident(name)} ALTER {_ident(c)} TYPE DOUBLE")

    def append_rows(self, name: str, columns: Sequence[str], batch: pa.RecordBatch) -> None:
        """Append a batch of a semantic query's rows to a temp table, its columns in order into `columns`."""
        cols = ", ".join(_ident(c) for c in columns)
        self.data_version += 1
        try:
            self.cur.register("__ssg_rows", batch)
            try:
                self.cur.execute(f"INSERT INTO temp.main.{_ident(name)} ({cols}) SELECT * FROM __ssg_rows")
            finally:
                with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses even this: keep the cause
                    self.cur.unregister("__ssg_rows")
        except duckdb.Error as e:
            raise _pg_error(e, name) from None

    def storage_types(self, name: str) -> dict[str, str]:
        """A temp table's columns and the DuckDB types that hold them."""
        return dict(self.cur.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                                     "AND database_name = 'temp'", [name]).fetchall())

    def first_bad_value(self, batch: pa.RecordBatch, types: Sequence[str]) -> tuple[int, int] | None:
        """COPY FROM's text rows: (row, column index) of the first value its column's DuckDB type does not accept,
        in row order, or None. Runs on a connection of its own: the failed insert aborted this session's."""
        found: list[tuple[int, int]] = []
        con = self.cur.cursor()
        try:
            con.register("__ssg_bad", batch)
            for k, typ in enumerate(types):
                src = _ident(batch.schema.names[k])
                row = con.execute(
                    f"SELECT i FROM (SELECT row_number() OVER () - 1 AS i, {src} AS v FROM __ssg_bad) "
                    f"WHERE v IS NOT NULL AND TRY_CAST(v AS {typ}) IS NULL ORDER BY i LIMIT 1").fetchone()
                if row is not None:
                    found.append((int(row[0]), k))
        finally:
            con.close()
        return min(found) if found else None

    def _post_process(self, plan: Plan, table: pa.Table, cols: tuple[ResultColumn, ...]) -> pa.Table:
        """Make Arrow values match the declared PostgreSQL types (reg* types print names)."""
        arrays = list(table.columns)
        changed = False
        for i, c in enumerate(cols):
            want = _ARROW_INTS.get(c.type.oid)
            if want is not None and pa.types.is_integer(arrays[i].type) and arrays[i].type != want:
                try:
                    arrays[i] = arrays[i].cast(want)
                    changed = True
                except pa.ArrowInvalid:
                    pass
            if c.type.oid == 1700 and c.type.typmod == -1 and pa.types.is_decimal(arrays[i].type) \
                    and arrays[i].type.scale == UNCONSTRAINED_SCALE:
                # an unconstrained numeric temp column (stored with 10 places) prints its value's own digits
                arrays[i] = pa.chunked_array([pa.array(
                    [None if v is None else format(v.normalize(), "f") for v in arrays[i].to_pylist()], pa.string())])
                changed = True
                continue
            if c.type.oid == 1042 and c.type.typmod >= 5 and pa.types.is_string(arrays[i].type):
                # char(n) prints blank-padded to n, as PostgreSQL stores it; expressions over the column see it
                # unpadded, as PostgreSQL's bpchar semantics do (length, ||, comparisons ignore trailing blanks)
                arrays[i] = pc.utf8_rpad(arrays[i], width=c.type.typmod - 4, padding=" ")
                changed = True
            if c.type.oid in (22, 30) and pa.types.is_list(arrays[i].type):
                # int2vector / oidvector print space-separated ("1 2"), not as arrays
                vecs = [None if v is None else " ".join(str(x) for x in v) for v in arrays[i].to_pylist()]
                arrays[i] = pa.chunked_array([pa.array(vecs, pa.string())])
                changed = True
                continue
            if c.type.oid == 1184 and pa.types.is_timestamp(arrays[i].type) and arrays[i].type.tz is None:
                arrays[i] = arrays[i].cast(pa.timestamp(arrays[i].type.unit, tz="UTC"))
                changed = True
            if c.type.oid in (2205, 2206, 24, 4089, 4096, 2202) and (pa.types.is_integer(arrays[i].type)):
                oids = arrays[i].to_pylist()
                vals = [self.engine.reg_out(c.type.oid, v) for v in oids]
                if len(self._reg_seen) > 100_000:
                    self._reg_seen.clear()
                for o, name in zip(oids, vals, strict=True):
                    if o is not None and name is not None:
                        self._reg_seen[(c.type.oid, name)] = o
                arrays[i] = pa.chunked_array([pa.array(vals, pa.string())])
                changed = True
        if not changed:
            return table
        return pa.Table.from_arrays(arrays, names=table.column_names)

    def _after_ddl(self, plan: Plan, sql: str) -> None:
        rows = self.cur.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
        self.temp_tables = {r[0] for r in rows if not r[0].startswith("__")}
        self._record_temp_columns(plan)
        self._plans.clear()
        self._described.clear()
        if self.temp_tables:
            self._build_overlay()

    def drop_temp_tables(self) -> tuple[str, ...]:
        """DISCARD TEMP / DISCARD ALL: drop every temp table of this session; returns their names."""
        names = tuple(sorted(self.temp_tables))
        self.data_version += 1
        try:
            for name in names:
                self.cur.execute(f"DROP TABLE IF EXISTS temp.main.{_ident(name)}")
        except duckdb.Error as e:
            raise _pg_error(e, "DISCARD TEMP") from None
        self.temp_tables = set()
        self.temp_columns.clear()
        self._plans.clear()
        self._described.clear()
        return names

    def _record_temp_columns(self, plan: Plan) -> None:
        """Keep the PostgreSQL types a temp table was declared with; DuckDB's own types fill the gaps."""
        for gone in set(self.temp_columns) - self.temp_tables:
            del self.temp_columns[gone]
        name = plan.created
        if name is None or name not in self.temp_tables or name in self.temp_columns:
            return  # not created by this statement (CREATE ... IF NOT EXISTS of an existing table)
        schema = self.cur.sql(f"SELECT * FROM temp.main.{_ident(name)} LIMIT 0").to_arrow_table().schema
        declared = plan.created_types if len(plan.created_types) == len(schema) else []
        cols = []
        for i, f in enumerate(schema):
            t = declared[i][1] if declared else None
            cols.append((f.name, t if t is not None else pg_type_for_arrow(f.type)))
        self.temp_columns[name] = tuple(cols)

    def _build_overlay(self) -> None:
        """pg_namespace/pg_class/pg_attribute rows for this session's temp tables (schema pg_temp_N, relpersistence
        't'), unioned with the catalog's in temp views that only this session's DuckDB connection sees."""
        cat = self.engine.current
        snap = self.engine.snapshot
        owner = role_oid(cat.users, self.info.user or cat.users[0])
        nsp_oid = stable_oid("pg_temp", str(self.sid))
        new: dict[str, list[list[Any]]] = {"pg_namespace": [], "pg_class": [], "pg_attribute": []}

        def row(rel: str, template: list[Any], **values: Any) -> list[Any]:
            names = [c.name for c in snap.relations[("pg_catalog", rel)].columns]
            out = list(template)
            for k, v in values.items():
                out[names.index(k)] = v
            return out

        def template(rel: str, col: str, value: Any) -> list[Any]:
            names = [c.name for c in snap.relations[("pg_catalog", rel)].columns]
            i = names.index(col)
            return next(r for r in cat.rows.rows[f"pg_catalog.{rel}"] if r[i] == value)

        nsp_t = template("pg_namespace", "nspname", "public")
        new["pg_namespace"].append(
            row("pg_namespace", nsp_t, oid=nsp_oid, nspname=f"pg_temp_{self.sid}", nspowner=owner)
        )
        class_t = template("pg_class", "relname", "pg_class")
        att_t = cat.rows.rows["pg_catalog.pg_attribute"][0]
        not_null = set(self.cur.execute("SELECT table_name, column_name FROM duckdb_columns() "
                                        "WHERE database_name = 'temp' AND NOT is_nullable").fetchall())
        oids = self.temp_oids()
        for name in sorted(self.temp_tables):
            if name.startswith("__"):
                continue  # our own session relations
            schema = self.cur.sql(f"SELECT * FROM temp.main.{_ident(name)} LIMIT 0").to_arrow_table().schema
            toid = oids[name]
            new["pg_class"].append(
                row(
                    "pg_class",
                    class_t,
                    oid=toid,
                    relname=name,
                    relnamespace=nsp_oid,
                    reltype=0,
                    relowner=owner,
                    relfilenode=toid,
                    relpersistence="t",
                    relkind="r",
                    relnatts=len(schema),
                    relhasindex=False,
                    relacl=None,
                )
            )
            declared = dict(self.temp_columns.get(name, ()))
            for i, f in enumerate(schema, start=1):
                t = declared.get(f.name) or pg_type_for_arrow(f.type)
                new["pg_attribute"].append(
                    row(
                        "pg_attribute",
                        att_t,
                        attrelid=toid,
                        attname=f.name,
                        atttypid=t.oid,
                        attlen=t.typlen,
                        attnum=i,
                        atttypmod=t.typmod,
                        attnotnull=(name, f.name) in not_null,
                        atthasdef=False,
                        attisdropped=False,
                    )
                )
        temp_tables = [
            VirtualTable(
                name,
                tuple(VirtualColumn(c, t, ColumnKind.DIMENSION, None, (name, c) not in not_null)
                      for c, t in self.temp_columns[name]),
                schema=f"pg_temp_{self.sid}",
            )
            for name in sorted(self.temp_tables)
            if name in self.temp_columns
        ]
        info = temp_information_schema_rows(
            snap, temp_tables, database=self.info.database or cat.database, users=cat.users,
            type_names=cat.rows.type_names,
        )
        overlay = [("pg_catalog", rel, rows) for rel, rows in new.items()]
        overlay += [("information_schema", rel, rows) for rel, rows in info.items()]
        for nsp, rel, rows in overlay:
            relation = snap.relations[(nsp, rel)]
            self.cur.register("__ovrows", arrow_table(relation, rows))
            cols = ", ".join(
                f"CAST({_ident(c.name)} AS {duck_type(c.type_oid, c.typname)}) AS {_ident(c.name)}"
                for c in relation.columns
            )
            short = f"{SCHEMA_ALIAS[nsp]}_{rel}"
            self.cur.execute(f"CREATE OR REPLACE TEMP TABLE {_ident('__tmp_' + short)} AS SELECT {cols} FROM __ovrows")
            self.cur.unregister("__ovrows")
            base = f"{DUCK_DB}.{SCHEMA_ALIAS[nsp]}.{_ident(rel)}"
            self.cur.execute(
                f"CREATE OR REPLACE TEMP VIEW {_ident('__ov_' + short)} AS SELECT * FROM {base} "
                f"UNION ALL SELECT * FROM temp.main.{_ident('__tmp_' + short)}"
            )

    def _last_created_count(self, plan: Plan) -> int:
        name = plan.created
        if name is None:
            return 0
        try:
            got = self.cur.execute(f"SELECT count(*) FROM temp.main.{_ident(name)}").fetchall()[0]
        except duckdb.Error:
            return 0
        return int(got[0]) if got else 0

    def _refresh_session_relations(self, plan: Plan) -> None:
        for nsp, rel in plan.session_relations:
            relation = self.engine.snapshot.relations[(nsp, rel)]
            rows = self._session_rows(rel)
            tbl = arrow_table(relation, rows)
            self.cur.register("__sess", tbl)
            cols = ", ".join(
                f"CAST({_ident(c.name)} AS {duck_type(c.type_oid, c.typname)}) AS {_ident(c.name)}"
                for c in relation.columns
            )
            self.cur.execute(f"CREATE OR REPLACE TEMP TABLE {_ident('__' + rel)} AS SELECT {cols} FROM __sess")
            self.cur.unregister("__sess")

    def _session_rows(self, rel: str) -> list[list[Any]]:
        relation = self.engine.snapshot.relations[("pg_catalog", rel)]
        idx = {c.name: i for i, c in enumerate(relation.columns)}
        if rel == "pg_settings":
            out = []
            seen: set[str] = set()
            for r in self.engine.snapshot.rows.get("pg_catalog.pg_settings", []):
                r = list(r)
                name = r[idx["name"]]
                seen.add(name.lower())
                v = self.setting(name)
                if v is not None:
                    r[idx["setting"]] = v
                out.append(r)
            for name, value in sorted(self.info.settings.items()):
                if name.lower() not in seen:
                    r = [None] * len(relation.columns)
                    r[idx["name"]], r[idx["setting"]], r[idx["context"]] = name, str(value), "user"
                    r[idx["vartype"]], r[idx["source"]], r[idx["pending_restart"]] = "string", "session", False
                    out.append(r)
            return out
        if rel == "pg_stat_activity":
            acts = self.info.activity() if self.info.activity is not None else []
            out = []
            for a in acts:
                r = [None] * len(relation.columns)
                vals: dict[str, Any] = {
                    "datid": 0,
                    "datname": a.database,
                    "pid": a.pid,
                    "usesysid": 10,
                    "usename": a.user,
                    "application_name": a.application_name,
                    "client_addr": a.client_addr,
                    "backend_start": _ts(a.backend_start),
                    "query_start": _ts(a.query_start),
                    "state_change": _ts(a.query_start),
                    "state": a.state,
                    "query": a.query,
                    "backend_type": "client backend",
                    "client_port": -1 if a.client_addr is None else 0,
                }
                for k, v in vals.items():
                    if k in idx:
                        r[idx[k]] = v
                out.append(r)
            return out
        return []

    def interrupt(self) -> None:
        self.cur.interrupt()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.engine._forget(self.sid)
        with contextlib.suppress(duckdb.Error):
            self.cur.close()


def _param(v: object) -> object:
    """A text-format array parameter ('{1,2}') becomes a list DuckDB can cast."""
    if isinstance(v, str) and v.startswith("{") and v.endswith("}"):
        return [x.strip().strip('"') for x in v[1:-1].split(",") if x.strip()]
    return v


_OVERLAY = frozenset(
    {
        ("pg_catalog", "pg_namespace"),
        ("pg_catalog", "pg_class"),
        ("pg_catalog", "pg_attribute"),
        ("information_schema", "tables"),
        ("information_schema", "columns"),
    }
)
_ARROW_INTS = {21: pa.int16(), 23: pa.int32(), 20: pa.int64(), 26: pa.uint32()}


def _ts(t: float | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


def _version_num(v: str) -> str:
    parts = [int(p) for p in v.split(" ")[0].split(".") if p.isdigit()]
    major = parts[0] if parts else 15
    minor = parts[1] if len(parts) > 1 else 0
    return str(major * 10000 + minor)


def _pg_error(e: duckdb.Error, sql: str) -> PgError:
    """DuckDB's error as PostgreSQL would word it (SQLSTATE, message, position), without our internal names."""
    udf_error = functions.UDF_ERRORS.error
    if udf_error is not None:
        functions.UDF_ERRORS.error = None
        return udf_error
    if isinstance(e, duckdb.InterruptException):
        return PgError(E.QUERY_CANCELED, "canceling statement due to user request")
    msg = _clean(_first_line(str(e)))
    low = msg.lower()
    m = re.search(r'(?:scalar|table|aggregate)? ?function with name "?([\w.]+)"? does not exist', msg, re.I)
    if m:
        name = m.group(1).removeprefix("pgf_").lower()
        return PgError(
            E.UNDEFINED_FUNCTION,
            f"function {name} does not exist",
            position=_find(sql, name),
            hint="No function matches the given name and argument types. You might need to add explicit type casts.",
        )
    if "no function matches" in low or ("function" in low and "does not exist" in low):
        return PgError(E.UNDEFINED_FUNCTION, msg)
    m = re.search(r'table with name "?([^"!\s]+)"? does not exist', msg, re.I)
    if m:
        return PgError(E.UNDEFINED_TABLE, f'relation "{m.group(1)}" does not exist', position=_find(sql, m.group(1)))
    m = (
        re.search(r'referenced column "?([^"\s]+)"? not found', msg, re.I)
        or re.search(r'column "([^"]+)" referenced that exists in the select clause', msg, re.I)
        or re.search(r'column "?([^"\s]+)"? (?:not found|does not exist)', msg, re.I)
    )
    if m:
        return PgError(E.UNDEFINED_COLUMN, f'column "{m.group(1)}" does not exist', position=_find(sql, m.group(1)))
    if isinstance(e, duckdb.ParserException):
        return PgError(E.SYNTAX_ERROR, msg)
    out_of_range = _out_of_range(e, msg)
    if out_of_range is not None:
        return out_of_range
    if isinstance(e, duckdb.ConversionException):
        return PgError(E.INVALID_TEXT_REPRESENTATION, msg)
    if isinstance(e, duckdb.CatalogException) and "already exists" in low:
        m = re.search(r'with name "?([^"]+?)"? already exists', msg)
        return PgError(E.DUPLICATE_TABLE, f'relation "{m.group(1)}" already exists' if m else msg)
    if "more than one row returned by a subquery" in low:
        return PgError("21000", "more than one row returned by a subquery used as an expression")
    if "division by zero" in low:
        return PgError(E.DIVISION_BY_ZERO, "division by zero")
    if "value out of range: overflow" in low:  # raised by the pgf_float_checked macro
        return PgError(E.NUMERIC_VALUE_OUT_OF_RANGE, "value out of range: overflow")
    if "negative substring length not allowed" in low:  # raised by the pgf_substring macro
        return PgError("22011", "negative substring length not allowed")
    if "field position must not be zero" in low:  # raised by the pgf_split_part macro
        return PgError(E.INVALID_PARAMETER_VALUE, "field position must not be zero")
    if isinstance(e, duckdb.ConstraintException):
        return _constraint_error(msg)
    m = re.search(r"Type with name (\w+) does not exist", msg)
    if m:  # a temp table's column type
        name = m.group(1).lower()
        if name in ("serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"):
            return PgError(E.FEATURE_NOT_SUPPORTED, f"type {name} is not supported in temporary tables by this gateway",
                           hint="Declare the column integer or bigint and write its values.")
        return PgError(E.UNDEFINED_OBJECT, f'type "{name}" does not exist', position=_find(sql, m.group(1)))
    if isinstance(e, duckdb.BinderException):
        return PgError(E.DATATYPE_MISMATCH, msg)
    return PgError(E.INTERNAL_ERROR, msg)


_INT_NAMES = {"INT16": "smallint", "INT32": "integer", "INT64": "bigint"}


def _out_of_range(e: duckdb.Error, msg: str) -> PgError | None:
    """DuckDB's integer overflow and out-of-range casts are PostgreSQL's 22003 (integer out of range, numeric field
    overflow); DuckDB words them as an Out of Range or Conversion error naming its own types."""
    m = re.search(r"Overflow in \w+ of (INT16|INT32|INT64)", msg)
    if isinstance(e, duckdb.OutOfRangeException) and m:
        return PgError(E.NUMERIC_VALUE_OUT_OF_RANGE, f"{_INT_NAMES[m.group(1)]} out of range")
    if isinstance(e, duckdb.OutOfRangeException) and re.search(r"Overflow (?:in division of|on abs\()", msg):
        return PgError(E.NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range")  # int_min / -1, abs(int_min)
    m = re.search(r"out of range for the destination type (INT16|INT32|INT64)", msg)
    if isinstance(e, duckdb.ConversionException) and m:
        return PgError(E.NUMERIC_VALUE_OUT_OF_RANGE, f"{_INT_NAMES[m.group(1)]} out of range")
    if isinstance(e, duckdb.ConversionException) and re.search(r"Could not cast value \S+ to DECIMAL", msg):
        return PgError(E.NUMERIC_VALUE_OUT_OF_RANGE, "numeric field overflow")
    return None


def _write_tag(plan: Plan, n: int) -> str:
    """PostgreSQL's command tag of a write that touched n rows (TRUNCATE reports none)."""
    if plan.kind == "insert":
        return f"INSERT 0 {n}"
    return plan.tag if plan.kind == "truncate" else f"{plan.tag} {n}"


def _constraint_error(msg: str) -> PgError:
    """A temp table's constraint, violated by INSERT or UPDATE, in PostgreSQL's words and class 23 SQLSTATE."""
    m = re.search(r"NOT NULL constraint failed: ([^.\s]+)\.(\S+)", msg)
    if m:
        return PgError(E.NOT_NULL_VIOLATION,
                       f'null value in column "{m.group(2)}" of relation "{m.group(1)}" violates not-null constraint')
    m = re.search(r'Duplicate key "(.*)" violates', msg)
    if m:
        pairs = [p.split(": ", 1) for p in m.group(1).split(", ")]
        detail = None
        if all(len(p) == 2 for p in pairs):
            detail = f"Key ({', '.join(p[0] for p in pairs)})=({', '.join(p[1] for p in pairs)}) already exists."
        return PgError(E.UNIQUE_VIOLATION, "duplicate key value violates unique constraint", detail=detail)
    if re.search(r"PRIMARY KEY or UNIQUE constraint violation: duplicate key", msg):  # an appended batch (COPY)
        return PgError(E.UNIQUE_VIOLATION, "duplicate key value violates unique constraint")
    m = re.search(r'CHECK constraint failed on table "?([^"\s]+)"?', msg)
    if m:
        return PgError(E.CHECK_VIOLATION, f'new row for relation "{m.group(1)}" violates check constraint')
    return PgError(E.INTERNAL_ERROR, msg)


def _clean(msg: str) -> str:
    msg = re.sub(r"^[A-Za-z ]+ Error: ", "", msg)
    msg = msg.replace("pgcat.pgc.", "pg_catalog.").replace("pgcat.isc.", "information_schema.")
    return re.sub(r"(?i)\bpgf_", "", msg)


def _find(sql: str, name: str) -> int | None:
    m = re.search(r"(?<![\w\"])\"?" + re.escape(name) + r"\"?(?![\w\"])", sql, re.I)
    return m.start() + 1 if m else None


def _first_line(m: str) -> str:
    return m.strip().splitlines()[0][:500] if m.strip() else m


_ = time
