"""Record the catalog SQL real clients send, by running them against PostgreSQL 15 with log_statement=all.

Writes tests/catalog/data/client_queries.json (client, sql, params). Run by hand when clients change:
    .venv/bin/python -m tests.catalog.capture_client_queries
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.catalog import pgserver
from tests.catalog.fixtures import fixture_schema

OUT = Path(__file__).parent / "data" / "client_queries.json"

JAVA = r"""
import java.sql.*;
public class Meta {
  public static void main(String[] a) throws Exception {
    Connection c = DriverManager.getConnection(a[0], "postgres", "");
    DatabaseMetaData m = c.getMetaData();
    drain(m.getCatalogs()); drain(m.getSchemas()); drain(m.getSchemas(null, "public"));
    drain(m.getTables(null, "public", "%", new String[]{"TABLE", "VIEW"}));
    drain(m.getTables(null, null, "%", null));
    drain(m.getColumns(null, "public", "orders", "%")); drain(m.getColumns(null, null, "%", "%"));
    drain(m.getPrimaryKeys(null, "public", "orders")); drain(m.getImportedKeys(null, "public", "orders"));
    drain(m.getExportedKeys(null, "public", "customers")); drain(m.getTypeInfo());
    drain(m.getIndexInfo(null, "public", "orders", false, true)); drain(m.getTableTypes());
    drain(m.getProcedures(null, "public", "%")); drain(m.getFunctions(null, "public", "%"));
    drain(m.getUDTs(null, "public", "%", null)); drain(m.getTablePrivileges(null, "public", "orders"));
    drain(m.getColumnPrivileges(null, "public", "orders", "%"));
    drain(m.getBestRowIdentifier(null, "public", "orders", 0, true));
    PreparedStatement p = c.prepareStatement("SELECT order_id, amount, ordered_at FROM orders WHERE order_id > ?");
    p.setLong(1, 0); ResultSet r = p.executeQuery(); ResultSetMetaData md = r.getMetaData();
    for (int i = 1; i <= md.getColumnCount(); i++) {
      md.getColumnTypeName(i); md.isNullable(i); md.isAutoIncrement(i); md.getTableName(i);
    }
    c.close();
  }
  static void drain(ResultSet r) throws Exception { while (r.next()) {} r.close(); }
}
"""


def run_clients(server: pgserver.PgServer) -> None:
    dsn = server.dsn("cubedb")
    port = server.port
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            "cubedb",
            "-X",
            "-c",
            r"\l",
            "-c",
            r"\dn",
            "-c",
            r"\dt",
            "-c",
            r"\dv",
            "-c",
            r"\d orders",
            "-c",
            r"\d+ orders",
            "-c",
            r"\d customers",
            "-c",
            r"\df",
            "-c",
            r"\dT",
            "-c",
            r"\du",
            "-c",
            r"\d",
        ],
        check=True,
        capture_output=True,
    )
    from sqlalchemy import create_engine, inspect

    eng = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/cubedb")
    insp = inspect(eng)
    insp.get_schema_names()
    for t in insp.get_table_names(schema="public"):
        insp.get_columns(t, schema="public")
        insp.get_pk_constraint(t, schema="public")
        insp.get_foreign_keys(t, schema="public")
        insp.get_indexes(t, schema="public")
        insp.get_unique_constraints(t, schema="public")
        insp.get_table_comment(t, schema="public")
        insp.get_check_constraints(t, schema="public")
    insp.get_view_names(schema="public")
    eng.dispose()
    from psycopg.types import TypeInfo

    with psycopg.connect(dsn) as conn:
        for name in ("numeric", "uuid", "jsonb", "int4[]", "hstore"):
            TypeInfo.fetch(conn, name)

    async def apg() -> None:
        import asyncpg  # type: ignore[import-untyped]

        c = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="cubedb")
        await c.fetch("SELECT * FROM orders")
        await c.fetch("SELECT 'orders'::regclass::oid, '1'::int2vector, '{1}'::int4[], ROW(1, 'a')")
        await c.close()

    asyncio.run(apg())
    with tempfile.TemporaryDirectory() as d:
        Path(d, "Meta.java").write_text(JAVA)
        jar = "/usr/share/java/postgresql.jar"
        subprocess.run(["javac", "-cp", jar, "Meta.java"], cwd=d, check=True)
        subprocess.run(
            ["java", "-cp", f"{jar}:{d}", "Meta", f"jdbc:postgresql://127.0.0.1:{port}/cubedb"], cwd=d, check=True
        )


def parse_log(text: str) -> list[dict[str, object]]:
    entries: list[tuple[str, str]] = []
    for chunk in re.split(r"^@@\d+@@ ", text, flags=re.M):
        if not chunk.strip():
            continue
        app, _, rest = chunk.partition("|")
        entries.append((app, rest))
    out: list[dict[str, object]] = []
    for app, rest in entries:
        m = re.match(r"LOG:\s+(?:statement|execute [^:]*): (.*)", rest, re.S)
        if m:
            sql = re.sub(r"\n\t", "\n", m.group(1)).strip()
            out.append({"client": app or "unknown", "sql": sql, "params": []})
            continue
        m = re.match(r"DETAIL:\s+parameters: (.*)", rest, re.S)
        if m and out:
            params = re.findall(r"\$\d+ = (NULL|'(?:[^']|'')*')", m.group(1))
            out[-1]["params"] = [None if p == "NULL" else p[1:-1].replace("''", "'") for p in params]
    return out


def main() -> None:
    server = pgserver.start(log_statements=True)
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET log_line_prefix = '@@%p@@ %a|'")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("CREATE DATABASE cubedb")
        with psycopg.connect(server.dsn("cubedb"), autocommit=True) as conn:
            for stmt in pgserver.ddl(fixture_schema()):
                conn.execute(stmt)
        log = server.root / "log"
        start = log.stat().st_size
        run_clients(server)
        text = log.read_text()[start:]
    finally:
        server.stop()
    queries = parse_log(text)
    seen: set[str] = set()
    unique = []
    for q in queries:
        sql = str(q["sql"])
        if sql in seen or not re.search(r"pg_|information_schema|current_|version\(", sql, re.I):
            continue
        if re.match(r"\s*(SET|SHOW|BEGIN|COMMIT|ROLLBACK|DEALLOCATE)\b", sql, re.I):
            continue
        seen.add(sql)
        unique.append(q)
    OUT.write_text(json.dumps(unique, indent=1))
    print(f"{len(unique)} statements -> {OUT}")


if __name__ == "__main__":
    main()
