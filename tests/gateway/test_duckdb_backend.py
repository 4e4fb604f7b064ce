"""The embedded DuckDB backend: streaming in batches, cancel, SQLSTATE mapping, schema lookups."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import duckdb
import pytest

from gateway.backends.base import Credentials
from gateway.backends.duckdb import DuckDBBackend
from virtual_schema.errors import PgError


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT range AS id, range % 7 AS k, 'x' || range AS s FROM range(300000)")
    con.close()
    return path


async def test_streams_in_bounded_batches(db: Path) -> None:
    backend = DuckDBBackend(db, threads=2, batch_rows=10_000)
    session = await backend.open_session(Credentials("demo", None))
    sizes = [b.num_rows async for b in session.execute("SELECT * FROM t ORDER BY id")]
    assert sum(sizes) == 300_000
    assert max(sizes) <= 10_000 and len(sizes) >= 30
    await session.close()
    await backend.close()


async def test_parameters_and_empty_result_keeps_schema(db: Path) -> None:
    backend = DuckDBBackend(db)
    session = await backend.open_session(Credentials("demo", None))
    batches = [b async for b in session.execute("SELECT id, s FROM t WHERE k = $1 AND id < $2", [3, 100])]
    ids = [i for b in batches for i in b.column("id").to_pylist()]
    assert ids == [i for i in range(100) if i % 7 == 3]
    batches = [b async for b in session.execute("SELECT id, s FROM t WHERE false")]
    assert batches and batches[0].num_rows == 0 and batches[0].schema.names == ["id", "s"]
    await backend.close()


async def test_cancel_interrupts_running_statement(db: Path) -> None:
    backend = DuckDBBackend(db)
    session = await backend.open_session(Credentials("demo", None))

    async def consume() -> int:
        return sum([b.num_rows async for b in session.execute(
            "SELECT count(*) FROM range(100000000000) a")])

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.3)
    await session.cancel()
    with pytest.raises(PgError) as e:
        await asyncio.wait_for(task, 20)
    assert e.value.sqlstate == "57014"
    got = [b async for b in session.execute("SELECT 1 AS one")]
    assert got[0].column("one").to_pylist() == [1]
    await backend.close()


async def test_abandoned_stream_is_closed_cleanly(db: Path) -> None:
    backend = DuckDBBackend(db, batch_rows=1000)
    session = await backend.open_session(Credentials("demo", None))
    stream = session.execute("SELECT * FROM t")
    first = await anext(stream)
    assert first.num_rows == 1000
    await stream.aclose()
    got = [b async for b in session.execute("SELECT count(*) AS n FROM t")]
    assert got[0].column("n").to_pylist() == [300_000]
    await backend.close()


async def test_closing_a_stream_releases_its_connection_at_once(db: Path) -> None:
    """Closing a result mid-way (the client went away) interrupts the batch being read ahead and releases
    the connection before aclose() returns: not later, from the garbage collector, by when the session may
    have closed that connection under the still-running read (an error nobody could retrieve)."""
    backend = DuckDBBackend(db, batch_rows=1000)
    session = await backend.open_session(Credentials("demo", None))
    stream = session.execute("SELECT * FROM t")
    await anext(stream)
    await anext(stream)  # the next batch is now being read ahead in a worker thread
    assert len(session._open) == 1
    await stream.aclose()
    assert not session._open
    await session.close()
    await backend.close()


@pytest.mark.parametrize(("sql", "sqlstate"), [
    ("SELECT * FROM nope", "42P01"),
    ("SELECT nope FROM t", "42703"),
    ("SELEC 1", "42601"),
    ("SELECT CAST('x' AS INTEGER)", "22P02"),
])
async def test_errors_map_to_sqlstates(db: Path, sql: str, sqlstate: str) -> None:
    backend = DuckDBBackend(db)
    session = await backend.open_session(Credentials("demo", None))
    with pytest.raises(PgError) as e:
        [b async for b in session.execute(sql)]
    assert e.value.sqlstate == sqlstate
    assert e.value.detail  # DuckDB's own message is kept
    await backend.close()


async def test_table_schema_without_reading_rows(db: Path) -> None:
    backend = DuckDBBackend(db)
    schema = await backend.table_schema("t")
    assert schema.names == ["id", "k", "s"]
    assert await backend.ready()
    await backend.close()


async def test_repeated_statements_run_every_time_from_cached_plans(db: Path) -> None:
    """From the second run on, parameterless SQL runs from a DuckDB prepared statement: still executed
    each time (a write in between shows), and more distinct statements than the cache holds still work."""
    backend = DuckDBBackend(db, read_only=False)
    reader = await backend.open_session(Credentials("demo", None))
    writer = await backend.open_session(Credentials("demo", None))

    async def count(sql: str = "SELECT count(*) AS n FROM t WHERE k = 3") -> int:
        rows = [r for b in [b async for b in reader.execute(sql)] for r in b.column(0).to_pylist()]
        return int(rows[0])

    expected = len([i for i in range(300_000) if i % 7 == 3])
    assert [await count() for _ in range(3)] == [expected] * 3
    [b async for b in writer.execute("INSERT INTO t VALUES (1000000, 3, 'new')")]
    assert [await count() for _ in range(2)] == [expected + 1] * 2
    for _ in range(3):
        for i in range(40):
            assert await count(sql=f"SELECT count(*) FROM t WHERE id < {i}") == i
    await backend.close()


async def test_small_result_takes_one_worker_hop(db: Path) -> None:
    backend = DuckDBBackend(db)
    session = await backend.open_session(Credentials("demo", None))
    submitted: list[object] = []
    real_submit = backend.pool.submit

    def counting_submit(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        submitted.append(fn)
        return real_submit(fn, *args, **kwargs)

    backend.pool.submit = counting_submit  # type: ignore[method-assign]
    got = [b async for b in session.execute("SELECT k, count(*) AS n FROM t GROUP BY k ORDER BY k")]
    assert [r for b in got for r in b.column("n").to_pylist()] == [len(range(k, 300_000, 7)) for k in range(7)]
    assert len(submitted) == 1
    await backend.close()


async def test_sessions_share_pooled_connections_and_their_plans(db: Path) -> None:
    """A statement is prepared once per pooled connection, not once per client session: twenty sessions
    taking turns with the same query leave one connection holding one plan."""
    backend = DuckDBBackend(db)
    sql = "SELECT k, count(*) AS n FROM t GROUP BY k ORDER BY k"
    expected = [[k, len(range(k, 300_000, 7))] for k in range(7)]
    for _ in range(20):
        session = await backend.open_session(Credentials("demo", None))
        for _ in range(2):
            batches = [b async for b in session.execute(sql)]
            rows = [list(r) for b in batches for r in zip(*b.to_pydict().values(), strict=True)]
            assert rows == expected
        await session.close()
    assert len(backend._idle) == 1 and list(backend._idle[0].plans) == [sql]
    await backend.close()


async def test_cancel_reaches_only_its_own_session(db: Path) -> None:
    """A cancel interrupts the canceled session's statement; another session's statement, running at the
    same time, finishes, and the interrupted connection is never handed to another statement."""
    backend = DuckDBBackend(db, threads=4)
    victim = await backend.open_session(Credentials("demo", None))
    bystander = await backend.open_session(Credentials("demo", None))

    async def rows(session: Any, sql: str) -> int:
        return sum([b.num_rows async for b in session.execute(sql)])

    long = asyncio.ensure_future(rows(victim, "SELECT count(*) FROM range(100000000000) a"))
    other = asyncio.ensure_future(rows(bystander, "SELECT * FROM t, range(20) r"))
    await asyncio.sleep(0.3)
    await victim.cancel()
    with pytest.raises(PgError) as e:
        await asyncio.wait_for(long, 20)
    assert e.value.sqlstate == "57014"
    assert await asyncio.wait_for(other, 60) == 6_000_000
    assert all(not c.interrupted for c in backend._idle)
    assert await rows(victim, "SELECT 1") == 1
    await backend.close()


async def test_one_session_streams_two_results_at_once(db: Path) -> None:
    """Two open results of one session (two cursors fetched in turns) each keep their own connection."""
    backend = DuckDBBackend(db, batch_rows=1000)
    session = await backend.open_session(Credentials("demo", None))
    first = session.execute("SELECT id FROM t ORDER BY id")
    second = session.execute("SELECT id FROM t WHERE k = 0 ORDER BY id")
    got: dict[str, list[int]] = {"first": [], "second": []}
    streams = {"first": first, "second": second}
    while streams:
        for name, stream in list(streams.items()):
            try:
                got[name] += (await anext(stream)).column(0).to_pylist()
            except StopAsyncIteration:
                del streams[name]
    assert got["first"] == list(range(300_000))
    assert got["second"] == list(range(0, 300_000, 7))
    await session.close()
    await backend.close()


async def test_identical_statements_running_at_once_run_once(db: Path) -> None:
    """On the read-only warehouse, sessions asking the same question while it runs share that run's rows;
    different values, large results and a writable warehouse each run on their own."""
    backend = DuckDBBackend(db)
    sessions = [await backend.open_session(Credentials("demo", None)) for _ in range(12)]

    async def rows(session: Any, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        batches = [b async for b in session.execute(sql, params)]
        return [tuple(r.values()) for b in batches for r in b.to_pylist()]

    slow = "SELECT k, count(*) AS n FROM t, range(40) r WHERE k < $1 GROUP BY k ORDER BY k"
    got = await asyncio.gather(*(rows(s, slow, (3,)) for s in sessions[:10]), rows(sessions[10], slow, (2,)))
    expected = [(k, 40 * len(range(k, 300_000, 7))) for k in range(3)]
    assert got[:10] == [expected] * 10 and got[10] == expected[:2]
    assert 1 <= backend.coalesced <= 9  # the run with other values never joins

    before = backend.coalesced  # a run whose rows are known is over: a portal left open is not a cache
    left_open = sessions[0].execute(slow, (3,))
    await anext(left_open)
    await asyncio.sleep(0)
    assert await rows(sessions[1], slow, (3,)) == expected and backend.coalesced == before
    await left_open.aclose()

    big = await asyncio.gather(*(rows(s, "SELECT id FROM t WHERE k = 1") for s in sessions[:3]))
    assert [len(b) for b in big] == [len(range(1, 300_000, 7))] * 3 and backend.coalesced == before
    await backend.close()

    writable = DuckDBBackend(db, read_only=False)
    ws = [await writable.open_session(Credentials("demo", None)) for _ in range(4)]
    assert len({tuple(r) for r in await asyncio.gather(*(rows(s, slow, (3,)) for s in ws))}) == 1
    assert writable.coalesced == 0
    await writable.close()


async def test_engine_threads_setting_reaches_duckdb(db: Path) -> None:
    backend = DuckDBBackend(db, engine_threads=1)
    session = await backend.open_session(Credentials("demo", None))
    got = [b async for b in session.execute("SELECT current_setting('threads') AS n")]
    assert got[0].column("n").to_pylist() == [1]
    await backend.close()


async def test_memory_limit_setting_reaches_duckdb(db: Path) -> None:
    """The setting bounds DuckDB's buffer pool: the backend's connections report what DuckDB itself makes of it."""
    backend = DuckDBBackend(db, memory_limit="64MB")
    session = await backend.open_session(Credentials("demo", None))
    got = [b async for b in session.execute("SELECT current_setting('memory_limit') AS m")]
    await backend.close()
    default = duckdb.connect().execute("SELECT current_setting('memory_limit')").fetchone()
    expected = duckdb.connect(config={"memory_limit": "64MB"}).execute("SELECT current_setting('memory_limit')")
    assert got[0].column("m").to_pylist() == list(expected.fetchone() or ()) != list(default or ())


async def test_small_result_left_open_does_not_hold_its_connection(db: Path) -> None:
    """A small result read to its end gives its connection back before its rows are sent: the session's
    next statement may run on it, and closing the first portal later leaves that statement alone."""
    backend = DuckDBBackend(db, batch_rows=100_000)
    session = await backend.open_session(Credentials("demo", None))
    first = session.execute("SELECT k FROM t WHERE id < 20 ORDER BY id")
    assert (await anext(first)).num_rows == 20
    second = session.execute("SELECT id FROM t ORDER BY id")
    head = await anext(second)
    await first.aclose()
    rest = [b.num_rows async for b in second]
    assert head.num_rows + sum(rest) == 300_000
    await backend.close()
