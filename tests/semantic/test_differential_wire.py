"""The differential cases through a real driver: psycopg 3 against the gateway process serving the demo models.

The gateway (tests/conftest.py `gateway`) serves one copy of the demo warehouse; MetricFlow answers over a
second copy from the same deterministic generator (tests/semantic/conftest.py). Every case of
tests/semantic/cases.py must give MetricFlow's rows through the extended protocol with text results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from tests.semantic.cases import CASES, Case
from tests.semantic.oracle import rows_equal
from tests.server import GatewayProcess


@pytest.fixture(scope="module")
def conn(gateway: GatewayProcess) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(gateway.dsn(), autocommit=True, connect_timeout=20) as c:
        c.execute("SET TimeZone = 'UTC'")
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_wire_matches_metricflow(
    case: Case, conn: psycopg.Connection[tuple[Any, ...]], expected: Callable[[Case], list[tuple[Any, ...]]]
) -> None:
    got = conn.execute(case.sql).fetchall()  # psycopg 3: Parse/Bind/Execute
    want = expected(case)
    ok, why = rows_equal(got, want)
    assert ok, f"{case.name}: {why}"
    if case.ordered:
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            same, why = rows_equal([a], [b])
            assert same, f"{case.name}: row {i} out of order: {a} vs {b}"
