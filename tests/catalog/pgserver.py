"""A throwaway PostgreSQL 15 on 127.0.0.1 (random port, socket in a temp dir) to compare against."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tests.pgserver import PG_BIN, as_postgres, free_port
from virtual_schema.catalog.formatting import format_type
from virtual_schema.catalog.pgdata import load_snapshot
from virtual_schema.schema import VirtualSchema


@dataclass
class PgServer:
    root: Path
    port: int

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def stop(self) -> None:
        subprocess.run(
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start(log_statements: bool = False) -> PgServer:
    root = Path(tempfile.mkdtemp(prefix="pg15-"))
    os.chmod(root, 0o777)
    port = free_port()
    subprocess.run(
        as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(root / "data"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    if log_statements:
        opts += " -c log_statement=all -c log_min_messages=info"
    subprocess.run(
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-o", opts, "-l", str(root / "log"), "-w",
                     "start"]),
        check=True,
        capture_output=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    return PgServer(root, port)


@contextlib.contextmanager
def connection() -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to a throwaway server of its own, stopped on exit."""
    server = start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            yield conn
    finally:
        server.stop()


def ddl(schema: VirtualSchema) -> list[str]:
    """CREATE TABLE / COMMENT statements giving PostgreSQL the same tables as the virtual schema."""
    snap = load_snapshot()
    from virtual_schema.catalog.populate import build_rows

    names = build_rows(snap, VirtualSchema(()), database="x", users=("postgres",)).type_names

    def q(n: str) -> str:
        return '"' + n.replace('"', '""') + '"'

    out: list[str] = []
    for t in schema.tables:
        if t.schema != "public":
            out.append(f"CREATE SCHEMA IF NOT EXISTS {q(t.schema)}")
        cols = [
            f"{q(c.name)} {format_type(c.type.oid, c.type.typmod, names)}{'' if c.nullable else ' NOT NULL'}"
            for c in t.columns
        ]
        if t.primary_key:
            cols.append(f"CONSTRAINT {q(t.name + '_pkey')} PRIMARY KEY ({', '.join(q(c) for c in t.primary_key)})")
        out.append(f"CREATE TABLE {q(t.schema)}.{q(t.name)} ({', '.join(cols)})")
        if t.description:
            out.append(f"COMMENT ON TABLE {q(t.schema)}.{q(t.name)} IS '{t.description}'")
        for c in t.columns:
            if c.description:
                out.append(f"COMMENT ON COLUMN {q(t.schema)}.{q(t.name)}.{q(c.name)} IS '{c.description}'")
    for t in schema.tables:
        for fk in t.foreign_keys:
            ref = schema.table(fk.ref_table)
            assert ref is not None
            out.append(
                f"ALTER TABLE {q(t.schema)}.{q(t.name)} ADD CONSTRAINT {q(fk.name)} FOREIGN KEY "
                f"({', '.join(q(c) for c in fk.columns)}) REFERENCES {q(ref.schema)}.{q(ref.name)} "
                f"({', '.join(q(c) for c in fk.ref_columns)})"
            )
    return out
