"""Models reload on file changes and SIGHUP; an invalid set is refused and the last good set keeps serving."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.server import ROOT, GatewayProcess, start_gateway


@pytest.fixture
def models_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "models"
    shutil.copytree(ROOT / "semantic-models", dst)
    return dst


@pytest.fixture
def live_gateway(models_copy: Path, demo_duckdb: Path) -> Iterator[GatewayProcess]:
    gw = start_gateway(["--models", str(models_copy), "--duckdb", str(demo_duckdb)])
    yield gw
    gw.stop()


def _columns(gw: GatewayProcess, table: str) -> list[str]:
    with psycopg.connect(gw.dsn(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            [table]).fetchall()
    return [r[0] for r in rows]


def _wait_for(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.3)
    return False


def test_file_change_reloads_and_invalid_set_is_refused(live_gateway: GatewayProcess, models_copy: Path) -> None:
    orders = models_copy / "orders.yaml"
    original = orders.read_text()
    assert "big_order_count" not in _columns(live_gateway, "orders")

    orders.write_text(original.replace(
        "metrics:\n",
        "metrics:\n  - name: big_order_count\n    type: simple\n    measure: order_count\n"
        "    filter: \"order_size = 'large'\"\n", 1))
    assert _wait_for(lambda: "big_order_count" in _columns(live_gateway, "orders"))
    with psycopg.connect(live_gateway.dsn(), autocommit=True) as conn:
        (n,) = conn.execute("SELECT big_order_count FROM orders").fetchone()  # type: ignore[misc]
        (expected,) = conn.execute(
            "SELECT MEASURE(order_count) FROM orders WHERE order_size = 'large'").fetchone()  # type: ignore[misc]
        assert n == expected

    # An invalid model set is refused with every problem logged; the last good set keeps serving.
    orders.write_text(original.replace("measure: gross_revenue", "measure: no_such_measure"))
    assert _wait_for(lambda: any("models.reload_refused" in line for line in live_gateway.log_lines))
    refused = next(line for line in live_gateway.log_lines if "models.reload_refused" in line)
    assert "orders.yaml:" in refused and "no_such_measure" in refused
    assert "big_order_count" in _columns(live_gateway, "orders")
    with psycopg.connect(live_gateway.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT status, revenue FROM orders").fetchall()


def test_sighup_reloads(live_gateway: GatewayProcess, models_copy: Path) -> None:
    before = sum("models.loaded" in line for line in live_gateway.log_lines)
    live_gateway.sighup()
    assert _wait_for(lambda: sum("models.loaded" in line for line in live_gateway.log_lines) > before)
    assert "revenue" in _columns(live_gateway, "orders")
