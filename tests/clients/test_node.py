"""node-postgres (npm `pg`, installed into tests/clients/node by `make system-deps`): a parameterized metric query."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.targets import Target

NODE_DIR = Path(__file__).parent / "node"
pytestmark = pytest.mark.skipif(not (shutil.which("node") and (NODE_DIR / "node_modules" / "pg").exists()),
                                reason="needs node and `npm install` in tests/clients/node (make system-deps)")


def test_parameterized_metric_query(target: Target) -> None:
    q = target.metric()
    r = subprocess.run(["node", str(NODE_DIR / "metric.js"), target.url() + "?sslmode=disable", q.table, q.dimension,
                        q.measure], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["all"], "the metric query returned no rows"
    expected = [row for row in out["all"] if row[q.dimension] == out["value"]]
    assert len(expected) == 1
    assert out["one"] == expected
    assert out["named"] == expected and out["again"] == expected  # a named (server-side prepared) statement
    assert [f["name"] for f in out["fields"]] == [q.dimension, "m"]
    dim = next(c for c in target.schema.table(q.table).columns if c.name == q.dimension)  # type: ignore[union-attr]
    assert out["fields"][0]["oid"] == dim.type.oid
