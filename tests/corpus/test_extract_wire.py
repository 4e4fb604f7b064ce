"""EXTRACT over the wire is PostgreSQL 15's: numeric (OID 1700) with the field's scale, date_part() float8.

Constant statements (the catalog engine) must print PostgreSQL's very digits; over a semantic model the
RowDescription (simple and extended protocol) must announce what PostgreSQL announces over the mirrored table:
the type and its typmod (plain numeric, -1, never numeric(p,s), also for arithmetic over EXTRACT).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.clients.pg import PgServer
from tests.server import GatewayProcess

CONSTANTS = [
    "SELECT EXTRACT(YEAR FROM DATE '2024-03-05') AS y, EXTRACT(EPOCH FROM DATE '2024-03-05') AS ed",
    "SELECT EXTRACT(SECOND FROM TIMESTAMP '2024-03-05 12:34:12.345678') AS s, "
    "EXTRACT(SECOND FROM TIMESTAMP '2024-03-05 12:34:12') AS s0, "
    "EXTRACT(EPOCH FROM TIMESTAMP '2024-03-05 12:34:56.789') AS e, "
    "EXTRACT(MILLISECONDS FROM TIMESTAMP '2024-03-05 12:34:12.345678') AS ms",
    "SELECT date_part('second', TIMESTAMP '2024-03-05 12:34:12.345678') AS s, date_part('year', DATE '2024-03-05')",
    "SELECT EXTRACT(MONTH FROM DATE '2024-03-05') * 2 + 1 AS m",
    "SELECT EXTRACT(EPOCH FROM TIMESTAMP '2024-01-01 10:00:00.5') AS e, EXTRACT(YEAR FROM DATE '2024-02-03') AS y",
]

MODEL = (
    'SELECT EXTRACT(YEAR FROM "createdAt") AS y, EXTRACT(SECOND FROM "createdAt") AS s, '
    'EXTRACT(EPOCH FROM "createdAt") AS e, (EXTRACT(MONTH FROM "createdAt") - 1) / 3 AS q, '
    'EXTRACT(YEAR FROM "createdAt") * 100 + EXTRACT(MONTH FROM "createdAt") AS ym, '
    "date_part('month', \"createdAt\") AS m, EXTRACT(MILLISECONDS FROM \"createdAt\") AS ms, "
    "EXTRACT(EPOCH FROM \"createdAt\") - 1 AS e1, COUNT(*) AS n FROM \"Orders\" GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
)


def _text(conn: psycopg.Connection[Any], sql: str, *, prepare: bool = False) -> tuple[Any, ...]:
    cur = conn.execute(sql, prepare=prepare)
    res = cur.pgresult
    assert res is not None
    cols = [(d.name, d.type_code, res.fmod(i)) for i, d in enumerate(cur.description or [])]
    return cur.statusmessage, cols, [tuple(str(v) for v in r) for r in cur.fetchall()]


@pytest.mark.parametrize("sql", CONSTANTS)
def test_extract_constants_print_postgresql_digits(sql: str, bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    with psycopg.connect(bi_gateway.dsn(), autocommit=True) as gw, psycopg.connect(bi_pg.dsn(), autocommit=True) as pg:
        assert _text(gw, sql) == _text(pg, sql)
        assert _text(gw, sql, prepare=True) == _text(pg, sql, prepare=True)


def test_extract_over_a_model_is_announced_numeric(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    with psycopg.connect(bi_gateway.dsn(), autocommit=True) as gw, psycopg.connect(bi_pg.dsn(), autocommit=True) as pg:
        for prepare in (False, True):
            got, want = _text(gw, MODEL, prepare=prepare), _text(pg, MODEL, prepare=prepare)
            assert got[1] == want[1]
            assert got[2], "the warehouse has orders"
            for y, s, e, *_ in got[2]:
                # PostgreSQL's scales: whole years, seconds and epoch with 6 decimals
                assert "." not in y and len(s.split(".")[1]) == 6 and len(e.split(".")[1]) == 6
