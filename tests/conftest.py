"""Shared fixtures: the demo warehouse and a real gateway process serving the demo models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import ROOT, GatewayProcess, start_gateway


@pytest.fixture(scope="session")
def demo_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from virtual_schema.demo_warehouse import generate_demo_warehouse

    path = tmp_path_factory.mktemp("warehouse") / "demo.duckdb"
    generate_demo_warehouse(path)
    return path


@pytest.fixture(scope="session")
def gateway(demo_duckdb: Path) -> Iterator[GatewayProcess]:
    gw = start_gateway(["--models", str(ROOT / "semantic-models"), "--duckdb", str(demo_duckdb),
                        "--log-level", "info"])
    yield gw
    gw.stop()
