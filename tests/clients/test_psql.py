"""psql's backslash commands print what PostgreSQL 15 prints for the same tables.

Each command runs against the target and against a real PostgreSQL 15 holding equivalent tables (the
reference); outputs are compared after normalizing only what legitimately differs (port, other databases).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.clients.pg import PgServer
from tests.clients.targets import Target


def psql(host: str, port: int, *commands: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGPASSWORD": "demo", "PGSSLMODE": "disable", "PGCONNECT_TIMEOUT": "10",
           "PAGER": "", "PSQL_PAGER": "", "COLUMNS": "200", "PGTZ": "UTC"}
    args = ["psql", "-h", host, "-p", str(port), "-U", "demo", "-d", "semantic", "-X", "-P", "pager=off",
            "-v", "ON_ERROR_STOP=1"]
    for c in commands:
        args += ["-c", c]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)


def run_ok(host: str, port: int, command: str) -> str:
    r = psql(host, port, command)
    assert r.returncode == 0 and "ERROR" not in r.stderr, f"{command}: {r.stderr}"
    assert "WARNING" not in r.stderr, r.stderr
    return r.stdout


def header(output: str) -> tuple[str, list[str]]:
    """(title, column names) of an aligned psql table."""
    lines = output.splitlines()
    title = lines[0].strip()
    cols = [c.strip() for c in lines[1].split("|")]
    return title, cols


def rows(output: str) -> list[list[str]]:
    lines = output.splitlines()
    out = []
    for ln in lines[3:]:
        if "|" not in ln:  # "(n rows)", a blank line, or \d's footers (Indexes:, ...)
            break
        out.append([c.strip() for c in ln.split("|")])
    return out


def both(target: Target, pg15: PgServer, command: str) -> tuple[str, str]:
    return run_ok(target.host, target.port, command), run_ok(pg15.host, pg15.port, command)


@pytest.mark.parametrize("command", [r"\dt", r"\dv", r"\df", r"\dT", r"\dn"])
def test_listing_matches_postgres(target: Target, pg15: PgServer, command: str) -> None:
    got, expected = both(target, pg15, command)
    assert got == expected


def test_dt_lists_every_model(target: Target) -> None:
    names = {r[1] for r in rows(run_ok(target.host, target.port, r"\dt"))}
    assert names == {t.name for t in target.public_tables}


def test_l_lists_database(target: Target, pg15: PgServer) -> None:
    got, expected = both(target, pg15, r"\l")
    assert header(got) == header(expected)
    mine = [r for r in rows(got) if r[0] == target.database]
    ref = [r for r in rows(expected) if r[0] == "semantic"]
    assert len(mine) == 1
    # Name, Owner, Encoding, Collate, Ctype agree; locale provider / ICU columns follow PostgreSQL's layout.
    assert mine[0][:3] == ref[0][:3]


def test_du_lists_user(target: Target, pg15: PgServer) -> None:
    got, expected = both(target, pg15, r"\du")
    assert header(got) == header(expected)
    assert "demo" in {r[0] for r in rows(got)}


def test_conninfo(target: Target) -> None:
    out = run_ok(target.host, target.port, r"\conninfo")
    assert out.strip() == (f'You are connected to database "semantic" as user "demo" on host "{target.host}" '
                           f'at port "{target.port}".')


@pytest.mark.parametrize("command", [r"\d", r"\d+"])
def test_describe_model_matches_postgres(target: Target, pg15: PgServer, command: str) -> None:
    table = target.showcase()
    got, expected = both(target, pg15, f'{command} "{table.name}"')
    # the model's columns and types are there, in order
    described = rows(got)
    assert [r[0] for r in described] == [c.name for c in table.columns]
    assert all(r[1] for r in described), "every column has a type"
    assert got == expected


def test_describe_every_model(target: Target, pg15: PgServer) -> None:
    for table in target.public_tables:
        got, expected = both(target, pg15, f'\\d "{table.name}"')
        assert got == expected, table.name
