"""Rows of every emulated catalog relation for one VirtualSchema version.

Built-in rows come from the PostgreSQL 15 snapshot; the models add a namespace per schema, a table
(relkind 'r') with a row type per model, a primary-key index and constraint per primary entity, a
foreign-key constraint per foreign entity, and descriptions. information_schema is derived from the
same rows, so both views always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from virtual_schema.catalog import formatting as F
from virtual_schema.catalog.pgdata import (
    BOOTSTRAP_ROLE_OID,
    INFORMATION_SCHEMA_OID,
    PG_CATALOG_OID,
    PUBLIC_OID,
    Snapshot,
    SystemRelation,
    base_type,
)
from virtual_schema.pgtypes import TYPES_BY_OID
from virtual_schema.schema import VirtualSchema, VirtualTable, stable_oid

PG_CLASS, PG_CONSTRAINT, PG_NAMESPACE, PG_TYPE = 1259, 2606, 2615, 1247
COLLATABLE = frozenset({25, 1043, 1042, 19})


# PostgreSQL 15's predefined roles (pg_database_owner owns schema public).
_BUILTIN_ROLES = (
    (6171, "pg_database_owner"),
    (6181, "pg_read_all_data"),
    (6182, "pg_write_all_data"),
    (3373, "pg_monitor"),
    (3374, "pg_read_all_settings"),
    (3375, "pg_read_all_stats"),
    (3377, "pg_stat_scan_tables"),
    (4569, "pg_read_server_files"),
    (4570, "pg_write_server_files"),
    (4571, "pg_execute_server_program"),
    (4200, "pg_signal_backend"),
    (4544, "pg_checkpoint"),
)
_MUTATED = frozenset(
    {
        "pg_catalog.pg_namespace",
        "pg_catalog.pg_type",
        "pg_catalog.pg_class",
        "pg_catalog.pg_attribute",
        "pg_catalog.pg_description",
    }
)


def role_oid(users: Sequence[str], name: str) -> int:
    if users and name == users[0]:
        return BOOTSTRAP_ROLE_OID
    return stable_oid("role", name)


@dataclass
class CatalogRows:
    """Rows per relation, keyed 'schema.name', each a list of values in PostgreSQL column order."""

    rows: dict[str, list[list[Any]]]
    type_names: dict[int, tuple[str, int, str]]  # oid -> (typname, typelem, nspname)
    rel_names: dict[int, tuple[str, str]]  # pg_class oid -> (nspname, relname)
    proc_names: dict[int, str]
    namespaces: dict[str, int]


class _Table:
    def __init__(self, rel: SystemRelation) -> None:
        self.rel = rel
        self.names = [c.name for c in rel.columns]
        self.index = {n: i for i, n in enumerate(self.names)}

    def row(self, template: list[Any] | None = None, **values: Any) -> list[Any]:
        out = list(template) if template is not None else [_default(c.type_oid, c.notnull) for c in self.rel.columns]
        for k, v in values.items():
            out[self.index[k]] = v
        return out

    def get(self, row: list[Any], name: str) -> Any:
        return row[self.index[name]]


def _default(type_oid: int, notnull: bool) -> Any:
    if not notnull:
        return None
    t = base_type(type_oid)
    if t == 16:
        return False
    if t in (21, 23, 20, 26, 700, 701, 24, 2205, 2206):
        return 0
    if t in (22, 30) or t in (1005, 1028):
        return []
    return ""


def build_rows(snap: Snapshot, schema: VirtualSchema, *, database: str, users: Sequence[str]) -> CatalogRows:
    rels = snap.relations
    T = {f"{k[0]}.{k[1]}": _Table(v) for k, v in rels.items()}
    # Tables the models change get fresh lists; the rest share the snapshot's (loaded into DuckDB once).
    rows: dict[str, list[list[Any]]] = {k: ([list(r) for r in v] if k in _MUTATED else v) for k, v in snap.rows.items()}
    for k in T:
        rows.setdefault(k, [])

    def add(rel: str, **values: Any) -> list[Any]:
        r = T[rel].row(**values)
        rows[rel].append(r)
        return r

    owner = role_oid(users, users[0]) if users else BOOTSTRAP_ROLE_OID
    # ---- namespaces
    nsp_t = T["pg_catalog.pg_namespace"]
    namespaces = {nsp_t.get(r, "nspname"): int(nsp_t.get(r, "oid")) for r in rows["pg_catalog.pg_namespace"]}
    nsp_template = next(r for r in rows["pg_catalog.pg_namespace"] if nsp_t.get(r, "nspname") == "public")
    for t in schema.tables:
        if t.schema not in namespaces:
            oid = stable_oid("namespace", t.schema)
            namespaces[t.schema] = oid
            rows["pg_catalog.pg_namespace"].append(nsp_t.row(nsp_template, oid=oid, nspname=t.schema, nspowner=owner))

    # ---- types
    type_t = T["pg_catalog.pg_type"]
    nsp_by_oid = {v: k for k, v in namespaces.items()}
    type_rows = rows["pg_catalog.pg_type"]
    type_names: dict[int, tuple[str, int, str]] = {}
    for r in type_rows:
        type_names[int(type_t.get(r, "oid"))] = (
            type_t.get(r, "typname"),
            int(type_t.get(r, "typelem")),
            nsp_by_oid.get(int(type_t.get(r, "typnamespace")), ""),
        )
    rowtype_template = next(r for r in type_rows if type_t.get(r, "typname") == "pg_class")
    proc_t = T["pg_catalog.pg_proc"]
    proc_names = {int(proc_t.get(r, "oid")): proc_t.get(r, "proname") for r in rows["pg_catalog.pg_proc"]}
    typlen_of = {
        int(type_t.get(r, "oid")): (
            int(type_t.get(r, "typlen")),
            bool(type_t.get(r, "typbyval")),
            type_t.get(r, "typalign"),
            type_t.get(r, "typstorage"),
        )
        for r in type_rows
    }

    # ---- system relations (pg_class / pg_attribute rows come from the snapshot)
    class_t = T["pg_catalog.pg_class"]
    att_t = T["pg_catalog.pg_attribute"]
    class_template = next(r for r in rows["pg_catalog.pg_class"] if class_t.get(r, "relname") == "pg_class")
    att_template = rows["pg_catalog.pg_attribute"][0]
    rel_names: dict[int, tuple[str, str]] = {}
    for r in rows["pg_catalog.pg_class"]:
        rel_names[int(class_t.get(r, "oid"))] = (
            nsp_by_oid.get(int(class_t.get(r, "relnamespace")), ""),
            class_t.get(r, "relname"),
        )

    opclass_t = T["pg_catalog.pg_opclass"]
    default_opclass: dict[int, int] = {}
    for r in rows["pg_catalog.pg_opclass"]:
        if opclass_t.get(r, "opcmethod") == 403 and opclass_t.get(r, "opcdefault"):
            default_opclass.setdefault(int(opclass_t.get(r, "opcintype")), int(opclass_t.get(r, "oid")))

    desc = "pg_catalog.pg_description"
    pk_index: dict[str, tuple[int, str]] = {}
    for t in schema.tables:
        if t.primary_key:
            pk_index[t.name] = (stable_oid(t.schema, t.name, "pkey"), f"{t.name}_pkey")
    # Foreign keys are enforced by triggers on both tables in PostgreSQL; psql only lists them when set.
    with_triggers: set[str] = set()
    for t in schema.tables:
        for fk in t.foreign_keys:
            if schema.table(fk.ref_table) is not None:
                with_triggers.update((t.name, fk.ref_table))

    for t in schema.tables:
        nsp = namespaces[t.schema]
        toid = t.oid
        rowtype = stable_oid(t.schema, t.name, "rowtype")
        rel_names[toid] = (t.schema, t.name)
        rows["pg_catalog.pg_class"].append(
            class_t.row(
                class_template,
                oid=toid,
                relname=t.name,
                relnamespace=nsp,
                reltype=rowtype,
                reloftype=0,
                relowner=owner,
                relam=2,
                relfilenode=toid,
                reltablespace=0,
                relpages=0,
                reltuples=float(t.row_estimate),
                relallvisible=0,
                reltoastrelid=0,
                relhasindex=bool(t.primary_key),
                relisshared=False,
                relpersistence="p",
                relkind="r",
                relnatts=len(t.columns),
                relchecks=0,
                relhasrules=False,
                relhastriggers=t.name in with_triggers,
                relhassubclass=False,
                relrowsecurity=False,
                relforcerowsecurity=False,
                relispopulated=True,
                relreplident="d",
                relispartition=False,
                relrewrite=0,
                relfrozenxid="0",
                relminmxid="1",
                relacl=None,
                reloptions=None,
                relpartbound=None,
            )
        )
        rows["pg_catalog.pg_type"].append(
            type_t.row(
                rowtype_template,
                oid=rowtype,
                typname=t.name,
                typnamespace=nsp,
                typowner=owner,
                typrelid=toid,
                typarray=0,
            )
        )
        type_names[rowtype] = (t.name, 0, t.schema)
        if t.description:
            add(desc, objoid=toid, classoid=PG_CLASS, objsubid=0, description=t.description)
        for i, c in enumerate(t.columns, start=1):
            typlen, byval, align, storage = typlen_of.get(c.type.oid, (-1, False, "i", "x"))
            elem = TYPES_BY_OID.get(c.type.oid)
            rows["pg_catalog.pg_attribute"].append(
                att_t.row(
                    att_template,
                    attrelid=toid,
                    attname=c.name,
                    atttypid=c.type.oid,
                    attlen=typlen,
                    attnum=i,
                    attcacheoff=-1,
                    atttypmod=c.type.typmod,
                    attndims=1 if elem and elem.element_oid else 0,
                    attbyval=byval,
                    attalign=align,
                    attstorage=storage,
                    attcompression="",
                    attnotnull=not c.nullable or c.name in t.primary_key,
                    atthasdef=False,
                    atthasmissing=False,
                    attidentity="",
                    attgenerated="",
                    attisdropped=False,
                    attislocal=True,
                    attinhcount=0,
                    attstattarget=-1,
                    attcollation=(950 if c.type.oid == 19 else 100) if c.type.oid in COLLATABLE else 0,
                    attacl=None,
                    attoptions=None,
                    attfdwoptions=None,
                    attmissingval=None,
                )
            )
            if c.description:
                add(desc, objoid=toid, classoid=PG_CLASS, objsubid=i, description=c.description)
        attnums = {c.name: i for i, c in enumerate(t.columns, start=1)}
        if t.primary_key:
            ioid, iname = pk_index[t.name]
            keys = [attnums[k] for k in t.primary_key if k in attnums]
            rel_names[ioid] = (t.schema, iname)
            rows["pg_catalog.pg_class"].append(
                class_t.row(
                    class_template,
                    oid=ioid,
                    relname=iname,
                    relnamespace=nsp,
                    reltype=0,
                    reloftype=0,
                    relowner=owner,
                    relam=403,
                    relfilenode=ioid,
                    reltablespace=0,
                    relpages=1,
                    reltuples=float(t.row_estimate),
                    relallvisible=0,
                    reltoastrelid=0,
                    relhasindex=False,
                    relisshared=False,
                    relpersistence="p",
                    relkind="i",
                    relnatts=len(keys),
                    relchecks=0,
                    relhasrules=False,
                    relhastriggers=False,
                    relhassubclass=False,
                    relrowsecurity=False,
                    relforcerowsecurity=False,
                    relispopulated=True,
                    relreplident="n",
                    relispartition=False,
                    relrewrite=0,
                    relfrozenxid="0",
                    relminmxid="0",
                    relacl=None,
                    reloptions=None,
                    relpartbound=None,
                )
            )
            for j, k in enumerate(t.primary_key, start=1):
                col = t.column(k)
                if col is None:
                    continue
                typlen, byval, align, storage = typlen_of.get(col.type.oid, (-1, False, "i", "x"))
                rows["pg_catalog.pg_attribute"].append(
                    att_t.row(
                        att_template,
                        attrelid=ioid,
                        attname=k,
                        atttypid=col.type.oid,
                        attlen=typlen,
                        attnum=j,
                        attcacheoff=-1,
                        atttypmod=col.type.typmod,
                        attndims=0,
                        attbyval=byval,
                        attalign=align,
                        attstorage=storage,
                        attcompression="",
                        attnotnull=False,
                        atthasdef=False,
                        atthasmissing=False,
                        attidentity="",
                        attgenerated="",
                        attisdropped=False,
                        attislocal=True,
                        attinhcount=0,
                        attstattarget=-1,
                        attcollation=100 if col.type.oid in COLLATABLE else 0,
                        attacl=None,
                        attoptions=None,
                        attfdwoptions=None,
                        attmissingval=None,
                    )
                )
            key_types = [t.column(k).type.oid for k in t.primary_key if t.column(k) is not None]  # type: ignore[union-attr]
            add(
                "pg_catalog.pg_index",
                indexrelid=ioid,
                indrelid=toid,
                indnatts=len(keys),
                indnkeyatts=len(keys),
                indisunique=True,
                indnullsnotdistinct=False,
                indisprimary=True,
                indisexclusion=False,
                indimmediate=True,
                indisclustered=False,
                indisvalid=True,
                indcheckxmin=False,
                indisready=True,
                indislive=True,
                indisreplident=False,
                indkey=keys,
                indcollation=[100 if o in COLLATABLE else 0 for o in key_types],
                indclass=[default_opclass.get(o, 0) for o in key_types],
                indoption=[0] * len(keys),
                indexprs=None,
                indpred=None,
            )
            con_oid = stable_oid(t.schema, t.name, "pkey", "constraint")
            add(
                "pg_catalog.pg_constraint",
                oid=con_oid,
                conname=iname,
                connamespace=nsp,
                contype="p",
                condeferrable=False,
                condeferred=False,
                convalidated=True,
                conrelid=toid,
                contypid=0,
                conindid=ioid,
                conparentid=0,
                confrelid=0,
                confupdtype=" ",
                confdeltype=" ",
                confmatchtype=" ",
                conislocal=True,
                coninhcount=0,
                connoinherit=True,
                conkey=keys,
                confkey=None,
                conpfeqop=None,
                conppeqop=None,
                conffeqop=None,
                confdelsetcols=None,
                conexclop=None,
                conbin=None,
            )
            add(
                "pg_catalog.pg_depend",
                classid=PG_CLASS,
                objid=ioid,
                objsubid=0,
                refclassid=PG_CONSTRAINT,
                refobjid=con_oid,
                refobjsubid=0,
                deptype="i",
            )
        for fk in t.foreign_keys:
            ref = schema.table(fk.ref_table)
            if ref is None:
                continue
            ref_atts = {c.name: i for i, c in enumerate(ref.columns, start=1)}
            con_oid = stable_oid(t.schema, t.name, "fk", fk.name)
            ref_index = pk_index.get(ref.name, (0, ""))[0]
            add(
                "pg_catalog.pg_constraint",
                oid=con_oid,
                conname=fk.name,
                connamespace=nsp,
                contype="f",
                condeferrable=False,
                condeferred=False,
                convalidated=True,
                conrelid=toid,
                contypid=0,
                conindid=ref_index,
                conparentid=0,
                confrelid=ref.oid,
                confupdtype="a",
                confdeltype="a",
                confmatchtype="s",
                conislocal=True,
                coninhcount=0,
                connoinherit=True,
                conkey=[attnums[c] for c in fk.columns if c in attnums],
                confkey=[ref_atts[c] for c in fk.ref_columns if c in ref_atts],
                conpfeqop=None,
                conppeqop=None,
                conffeqop=None,
                confdelsetcols=None,
                conexclop=None,
                conbin=None,
            )
            if ref_index:
                add(
                    "pg_catalog.pg_depend",
                    classid=PG_CONSTRAINT,
                    objid=con_oid,
                    objsubid=0,
                    refclassid=PG_CLASS,
                    refobjid=ref_index,
                    refobjsubid=0,
                    deptype="n",
                )
            add(
                "pg_catalog.pg_depend",
                classid=PG_CONSTRAINT,
                objid=con_oid,
                objsubid=0,
                refclassid=PG_CLASS,
                refobjid=toid,
                refobjsubid=0,
                deptype="a",
            )

    # ---- databases and roles
    add(
        "pg_catalog.pg_database",
        oid=stable_oid("database", database),
        datname=database,
        datdba=owner,
        encoding=6,
        datlocprovider="c",
        datistemplate=False,
        datallowconn=True,
        datconnlimit=-1,
        datfrozenxid="716",
        datminmxid="1",
        dattablespace=1663,
        datcollate="C.UTF-8",
        datctype="C.UTF-8",
        daticulocale=None,
        datcollversion=None,
        datacl=None,
    )
    for boid, bname in _BUILTIN_ROLES:
        add(
            "pg_catalog.pg_authid",
            oid=boid,
            rolname=bname,
            rolsuper=False,
            rolinherit=True,
            rolcreaterole=False,
            rolcreatedb=False,
            rolcanlogin=False,
            rolreplication=False,
            rolbypassrls=False,
            rolconnlimit=-1,
            rolpassword=None,
            rolvaliduntil=None,
        )
        add(
            "pg_catalog.pg_roles",
            rolname=bname,
            rolsuper=False,
            rolinherit=True,
            rolcreaterole=False,
            rolcreatedb=False,
            rolcanlogin=False,
            rolreplication=False,
            rolconnlimit=-1,
            rolpassword="********",
            rolvaliduntil=None,
            rolbypassrls=False,
            rolconfig=None,
            oid=boid,
        )
    for name in users:
        add(
            "pg_catalog.pg_authid",
            oid=role_oid(users, name),
            rolname=name,
            rolsuper=False,
            rolinherit=True,
            rolcreaterole=False,
            rolcreatedb=False,
            rolcanlogin=True,
            rolreplication=False,
            rolbypassrls=False,
            rolconnlimit=-1,
            rolpassword=None,
            rolvaliduntil=None,
        )
        add(
            "pg_catalog.pg_roles",
            rolname=name,
            rolsuper=False,
            rolinherit=True,
            rolcreaterole=False,
            rolcreatedb=False,
            rolcanlogin=True,
            rolreplication=False,
            rolconnlimit=-1,
            rolpassword="********",
            rolvaliduntil=None,
            rolbypassrls=False,
            rolconfig=None,
            oid=role_oid(users, name),
        )
        add(
            "pg_catalog.pg_user",
            usename=name,
            usesysid=role_oid(users, name),
            usecreatedb=False,
            usesuper=False,
            userepl=False,
            usebypassrls=False,
            passwd="********",
            valuntil=None,
            useconfig=None,
        )
        add(
            "pg_catalog.pg_shadow",
            usename=name,
            usesysid=role_oid(users, name),
            usecreatedb=False,
            usesuper=False,
            userepl=False,
            usebypassrls=False,
            passwd=None,
            valuntil=None,
            useconfig=None,
        )

    # ---- pg_tables / pg_views / pg_indexes
    for t in schema.tables:
        add(
            "pg_catalog.pg_tables",
            schemaname=t.schema,
            tablename=t.name,
            tableowner=users[0] if users else "",
            tablespace=None,
            hasindexes=bool(t.primary_key),
            hasrules=False,
            hastriggers=False,
            rowsecurity=False,
        )
        if t.primary_key:
            ioid, iname = pk_index[t.name]
            cols = ", ".join(F.quote_ident(c) for c in t.primary_key)
            add(
                "pg_catalog.pg_indexes",
                schemaname=t.schema,
                tablename=t.name,
                indexname=iname,
                tablespace=None,
                indexdef=f"CREATE UNIQUE INDEX {F.quote_ident(iname)} ON {F.quote_ident(t.schema)}."
                f"{F.quote_ident(t.name)} USING btree ({cols})",
            )
    for (rel_nsp, rel_name), rel in sorted(rels.items()):
        nsp_name, name = rel_nsp, rel_name
        if rel.relkind == "r" and nsp_name == "pg_catalog":
            add(
                "pg_catalog.pg_tables",
                schemaname=nsp_name,
                tablename=name,
                tableowner=users[0] if users else "postgres",
                tablespace=None,
                hasindexes=True,
                hasrules=False,
                hastriggers=False,
                rowsecurity=False,
            )
        elif rel.relkind == "v":
            add(
                "pg_catalog.pg_views",
                schemaname=nsp_name,
                viewname=name,
                viewowner=users[0] if users else "postgres",
                definition=None,
            )

    _information_schema(T, rows, rels, schema, database, users, type_names, pk_index)
    rows["information_schema.routines"] = _routines(snap, database, type_names)
    return CatalogRows(rows, type_names, rel_names, proc_names, namespaces)


def _information_schema(
    T: dict[str, _Table],
    rows: dict[str, list[list[Any]]],
    rels: dict[tuple[str, str], SystemRelation],
    schema: VirtualSchema,
    database: str,
    users: Sequence[str],
    type_names: dict[int, tuple[str, int, str]],
    pk_index: dict[str, tuple[int, str]],
) -> None:
    def add(rel: str, **values: Any) -> None:
        rows[f"information_schema.{rel}"].append(T[f"information_schema.{rel}"].row(**values))

    owner = users[0] if users else "postgres"
    for nsp in sorted({"pg_catalog", "public", "information_schema", *(t.schema for t in schema.tables)}):
        add(
            "schemata",
            catalog_name=database,
            schema_name=nsp,
            schema_owner=owner,
            default_character_set_catalog=None,
            default_character_set_schema=None,
            default_character_set_name=None,
            sql_path=None,
        )
    add(
        "character_sets",
        character_set_catalog=None,
        character_set_schema=None,
        character_set_name="UTF8",
        character_repertoire="UCS",
        form_of_use="UTF8",
        default_collate_catalog=database,
        default_collate_schema=None,
        default_collate_name=None,
    )
    add("information_schema_catalog_name", catalog_name=database)
    for u in users:
        add("enabled_roles", role_name=u)
        add("applicable_roles", grantee=u, role_name=u, is_grantable="NO")

    def column_rows(nsp: str, table: str, cols: list[tuple[str, int, int, bool, str | None]]) -> None:
        for pos, (cname, typ, typmod, notnull, _d) in enumerate(cols, start=1):
            tn, elem, tnsp = type_names.get(typ, ("unknown", 0, "pg_catalog"))
            is_domain = typ in (13221, 13224, 13226, 13232, 13234)
            btyp = base_type(typ)
            if elem and tn.startswith("_"):
                data_type = "ARRAY"
            elif tnsp == "pg_catalog" or is_domain:
                data_type = "character" if btyp == 1042 else (F.format_type(btyp, None, type_names) or "")
            else:
                data_type = "USER-DEFINED"
            add(
                "columns",
                table_catalog=database,
                table_schema=nsp,
                table_name=table,
                column_name=cname,
                ordinal_position=pos,
                column_default=None,
                is_nullable="NO" if notnull else "YES",
                data_type=data_type,
                character_maximum_length=F.char_max_length(btyp, typmod),
                character_octet_length=F.char_octet_length(btyp, typmod),
                numeric_precision=F.numeric_precision(btyp, typmod),
                numeric_precision_radix=F.numeric_precision_radix(btyp, typmod),
                numeric_scale=F.numeric_scale(btyp, typmod),
                datetime_precision=F.datetime_precision(btyp, typmod),
                interval_type=None,
                interval_precision=None,
                character_set_catalog=None,
                character_set_schema=None,
                character_set_name=None,
                collation_catalog=None,
                collation_schema=None,
                collation_name=None,
                domain_catalog=database if is_domain else None,
                domain_schema="information_schema" if is_domain else None,
                domain_name=tn if is_domain else None,
                udt_catalog=database,
                udt_schema="information_schema" if is_domain else tnsp,
                udt_name=type_names.get(btyp, (tn, 0, ""))[0] if not is_domain else tn,
                scope_catalog=None,
                scope_schema=None,
                scope_name=None,
                maximum_cardinality=None,
                dtd_identifier=str(pos),
                is_self_referencing="NO",
                is_identity="NO",
                identity_generation=None,
                identity_start=None,
                identity_increment=None,
                identity_maximum=None,
                identity_minimum=None,
                identity_cycle="NO",
                is_generated="NEVER",
                generation_expression=None,
                is_updatable="YES" if nsp != "information_schema" else "NO",
            )
            if is_domain:
                rows["information_schema.columns"][-1][T["information_schema.columns"].index["udt_name"]] = (
                    type_names.get(btyp, ("", 0, ""))[0]
                )
                rows["information_schema.columns"][-1][T["information_schema.columns"].index["udt_schema"]] = (
                    "pg_catalog"
                )

    for t in schema.tables:
        add(
            "tables",
            table_catalog=database,
            table_schema=t.schema,
            table_name=t.name,
            table_type="BASE TABLE",
            self_referencing_column_name=None,
            reference_generation=None,
            user_defined_type_catalog=None,
            user_defined_type_schema=None,
            user_defined_type_name=None,
            is_insertable_into="YES",
            is_typed="NO",
            commit_action=None,
        )
        column_rows(
            t.schema,
            t.name,
            [
                (c.name, c.type.oid, c.type.typmod, not c.nullable or c.name in t.primary_key, c.description)
                for c in t.columns
            ],
        )
        for priv in ("SELECT",):
            add(
                "role_table_grants",
                grantor=owner,
                grantee=owner,
                table_catalog=database,
                table_schema=t.schema,
                table_name=t.name,
                privilege_type=priv,
                is_grantable="YES",
                with_hierarchy="NO",
            )
            add(
                "table_privileges",
                grantor=owner,
                grantee=owner,
                table_catalog=database,
                table_schema=t.schema,
                table_name=t.name,
                privilege_type=priv,
                is_grantable="YES",
                with_hierarchy="NO",
            )
            for c in t.columns:
                add(
                    "role_column_grants",
                    grantor=owner,
                    grantee=owner,
                    table_catalog=database,
                    table_schema=t.schema,
                    table_name=t.name,
                    column_name=c.name,
                    privilege_type=priv,
                    is_grantable="YES",
                )
                add(
                    "column_privileges",
                    grantor=owner,
                    grantee=owner,
                    table_catalog=database,
                    table_schema=t.schema,
                    table_name=t.name,
                    column_name=c.name,
                    privilege_type=priv,
                    is_grantable="YES",
                )
        if t.primary_key:
            _, iname = pk_index[t.name]
            add(
                "table_constraints",
                constraint_catalog=database,
                constraint_schema=t.schema,
                constraint_name=iname,
                table_catalog=database,
                table_schema=t.schema,
                table_name=t.name,
                constraint_type="PRIMARY KEY",
                is_deferrable="NO",
                initially_deferred="NO",
                enforced="YES",
                nulls_distinct="YES",
            )
            for pos, k in enumerate(t.primary_key, start=1):
                add(
                    "key_column_usage",
                    constraint_catalog=database,
                    constraint_schema=t.schema,
                    constraint_name=iname,
                    table_catalog=database,
                    table_schema=t.schema,
                    table_name=t.name,
                    column_name=k,
                    ordinal_position=pos,
                    position_in_unique_constraint=None,
                )
                add(
                    "constraint_column_usage",
                    table_catalog=database,
                    table_schema=t.schema,
                    table_name=t.name,
                    column_name=k,
                    constraint_catalog=database,
                    constraint_schema=t.schema,
                    constraint_name=iname,
                )
        for fk in t.foreign_keys:
            ref = schema.table(fk.ref_table)
            if ref is None or ref.name not in pk_index:
                continue
            add(
                "table_constraints",
                constraint_catalog=database,
                constraint_schema=t.schema,
                constraint_name=fk.name,
                table_catalog=database,
                table_schema=t.schema,
                table_name=t.name,
                constraint_type="FOREIGN KEY",
                is_deferrable="NO",
                initially_deferred="NO",
                enforced="YES",
                nulls_distinct=None,
            )
            add(
                "referential_constraints",
                constraint_catalog=database,
                constraint_schema=t.schema,
                constraint_name=fk.name,
                unique_constraint_catalog=database,
                unique_constraint_schema=ref.schema,
                unique_constraint_name=pk_index[ref.name][1],
                match_option="NONE",
                update_rule="NO ACTION",
                delete_rule="NO ACTION",
            )
            for pos, (fc, rc) in enumerate(zip(fk.columns, fk.ref_columns, strict=False), start=1):
                ref_pos = ref.primary_key.index(rc) + 1 if rc in ref.primary_key else pos
                add(
                    "key_column_usage",
                    constraint_catalog=database,
                    constraint_schema=t.schema,
                    constraint_name=fk.name,
                    table_catalog=database,
                    table_schema=t.schema,
                    table_name=t.name,
                    column_name=fc,
                    ordinal_position=pos,
                    position_in_unique_constraint=ref_pos,
                )
                add(
                    "constraint_column_usage",
                    table_catalog=database,
                    table_schema=ref.schema,
                    table_name=ref.name,
                    column_name=rc,
                    constraint_catalog=database,
                    constraint_schema=t.schema,
                    constraint_name=fk.name,
                )

    for (nsp, name), rel in sorted(rels.items()):
        add(
            "tables",
            table_catalog=database,
            table_schema=nsp,
            table_name=name,
            table_type="BASE TABLE" if rel.relkind == "r" else "VIEW",
            self_referencing_column_name=None,
            reference_generation=None,
            user_defined_type_catalog=None,
            user_defined_type_schema=None,
            user_defined_type_name=None,
            is_insertable_into="YES" if rel.relkind == "r" else "NO",
            is_typed="NO",
            commit_action=None,
        )
        column_rows(nsp, name, [(c.name, c.type_oid, c.typmod, c.notnull, None) for c in rel.columns])
        if rel.relkind == "v":
            add(
                "views",
                table_catalog=database,
                table_schema=nsp,
                table_name=name,
                view_definition=None,
                check_option="NONE",
                is_updatable="NO",
                is_insertable_into="NO",
                is_trigger_updatable="NO",
                is_trigger_deletable="NO",
                is_trigger_insertable_into="NO",
            )


_ROUTINES_CACHE: dict[str, list[list[Any]]] = {}


def _routines(snap: Snapshot, database: str, type_names: dict[int, tuple[str, int, str]]) -> list[list[Any]]:
    """information_schema.routines for the built-in functions (the same list object for every version)."""
    got = _ROUTINES_CACHE.get(database)
    if got is not None:
        return got
    proc = _Table(snap.relation("pg_catalog", "pg_proc"))
    rt = _Table(snap.relation("information_schema", "routines"))
    langs = {12: "INTERNAL", 13: "C", 14: "SQL", 13586: "PLPGSQL"}
    out: list[list[Any]] = []
    for r in snap.rows["pg_catalog.pg_proc"]:
        kind = proc.get(r, "prokind")
        if kind not in ("f", "p"):
            continue
        name, oid, ret = proc.get(r, "proname"), int(proc.get(r, "oid")), int(proc.get(r, "prorettype"))
        tname, elem, tnsp = type_names.get(ret, ("", 0, "pg_catalog"))
        data_type = (
            "ARRAY"
            if elem and tname.startswith("_")
            else (F.format_type(ret, None, type_names) if tnsp == "pg_catalog" else "USER-DEFINED")
        )
        lang = langs.get(int(proc.get(r, "prolang")), "INTERNAL")
        out.append(
            rt.row(
                specific_catalog=database,
                specific_schema="pg_catalog",
                specific_name=f"{name}_{oid}",
                routine_catalog=database,
                routine_schema="pg_catalog",
                routine_name=name,
                routine_type="PROCEDURE" if kind == "p" else "FUNCTION",
                data_type=None if kind == "p" else data_type,
                type_udt_catalog=database,
                type_udt_schema=tnsp,
                type_udt_name=tname,
                dtd_identifier="0",
                routine_body="SQL" if lang == "SQL" else "EXTERNAL",
                external_language=lang,
                parameter_style="GENERAL",
                is_deterministic="YES" if proc.get(r, "provolatile") == "i" else "NO",
                sql_data_access="MODIFIES",
                is_null_call="YES" if proc.get(r, "proisstrict") else "NO",
                schema_level_routine="YES",
                max_dynamic_result_sets=0,
                is_implicitly_invocable=None,
                security_type="DEFINER" if proc.get(r, "prosecdef") else "INVOKER",
                as_locator="NO",
                is_udt_dependent="NO",
                new_savepoint_level=None,
                result_cast_as_locator=None,
            )
        )
    _ROUTINES_CACHE[database] = out
    return out


def is_system_schema(nsp: str) -> bool:
    return nsp in ("pg_catalog", "information_schema") or nsp.startswith("pg_")


def table_of(schema: VirtualSchema, nsp: str, name: str) -> VirtualTable | None:
    t = schema.table(name)
    return t if t is not None and t.schema == nsp else None


__all__ = ["INFORMATION_SCHEMA_OID", "PG_CATALOG_OID", "PUBLIC_OID", "CatalogRows", "build_rows", "role_oid"]


def temp_information_schema_rows(
    snap: Snapshot,
    tables: Sequence[VirtualTable],
    *,
    database: str,
    users: Sequence[str],
    type_names: dict[int, tuple[str, int, str]],
) -> dict[str, list[list[Any]]]:
    """information_schema.tables / columns rows of a session's temp tables (table_type LOCAL TEMPORARY)."""
    T = {f"{nsp}.{n}": _Table(rel) for (nsp, n), rel in snap.relations.items() if nsp == "information_schema"}
    rows: dict[str, list[list[Any]]] = {k: [] for k in T}
    _information_schema(T, rows, snap.relations, VirtualSchema(tuple(tables)), database, users, type_names, {})
    names = {(t.schema, t.name) for t in tables}
    tt = T["information_schema.tables"]
    out_tables = []
    for r in rows["information_schema.tables"]:
        if (tt.get(r, "table_schema"), tt.get(r, "table_name")) in names:
            r[tt.index["table_type"]] = "LOCAL TEMPORARY"
            out_tables.append(r)
    ct = T["information_schema.columns"]
    out_columns = [
        r for r in rows["information_schema.columns"]
        if (ct.get(r, "table_schema"), ct.get(r, "table_name")) in names
    ]
    return {"tables": out_tables, "columns": out_columns}
