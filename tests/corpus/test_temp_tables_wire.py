"""Tableau's temp-table conversation over the wire (router, Describe, RowDescription), against the gateway and a
real PostgreSQL 15 side by side: same command tags, columns, rows and SQLSTATEs, statement by statement."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.catalog.test_temp_tables_pg import CONVERSATION, answer
from tests.clients.pg import PgServer
from tests.server import GatewayProcess


def _differences(gw: psycopg.Connection[Any], pg: psycopg.Connection[Any], statements: list[str]) -> list[str]:
    out = []
    for sql in statements:
        want, got = answer(pg, sql), answer(gw, sql)
        if want != got:
            out.append(f"{sql}\n  PostgreSQL: {want}\n  gateway:    {got}")
    return out


def test_tableau_temp_tables_over_the_wire(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    with psycopg.connect(bi_gateway.dsn(), autocommit=True) as gw, psycopg.connect(bi_pg.dsn(), autocommit=True) as pg:
        differences = _differences(gw, pg, CONVERSATION)
        assert not differences, "\n".join(differences)


DISCARD_CONVERSATION = [
    "CREATE TEMP TABLE d1 (a int)",
    "INSERT INTO d1 VALUES (1)",
    "DISCARD TEMP",
    "SELECT * FROM d1",
    "CREATE TEMP TABLE d1 (b text)",  # the name is free again
    "SELECT * FROM d1",
    "BEGIN",
    "DISCARD TEMP",  # allowed in a transaction block, unlike DISCARD ALL
    "DISCARD PLANS",
    "COMMIT",
    "SELECT * FROM d1",
    "CREATE TEMP TABLE d3 (a int)",
    "BEGIN",
    "DISCARD ALL",
    "ROLLBACK",
    "SELECT count(*) FROM d3",
    "DISCARD ALL",
    "SELECT count(*) FROM d3",
]


def test_discard_drops_temp_tables_as_postgresql(bi_gateway: GatewayProcess, bi_pg: PgServer) -> None:
    with psycopg.connect(bi_gateway.dsn(), autocommit=True) as gw, psycopg.connect(bi_pg.dsn(), autocommit=True) as pg:
        differences = _differences(gw, pg, DISCARD_CONVERSATION)
        assert not differences, "\n".join(differences)
