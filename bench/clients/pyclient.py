"""Python drivers receiving a query's rows, one process per client like the C/Java/node programs.

    python -m bench.clients.pyclient MODE CONNINFO SQL RUNS

MODE: psycopg-text (fetchall, simple protocol), psycopg-named (server-side cursor, FETCH 10000 at a
time), psycopg-binary (fetchall, binary results over the extended protocol), asyncpg (fetch, binary).
Prints one "<rows> <seconds>" line per run; connecting is not timed.
"""

from __future__ import annotations

import asyncio
import sys
import time


def _psycopg(mode: str, conninfo: str, sql: str, runs: int) -> None:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        for r in range(runs):
            t0 = time.perf_counter()
            if mode == "psycopg-text":
                rows = len(conn.execute(sql).fetchall())
            elif mode == "psycopg-binary":
                rows = len(conn.cursor(binary=True).execute(sql).fetchall())
            elif mode == "psycopg-named":
                rows = 0
                with conn.cursor(name=f"bench_{r}") as cur:
                    cur.execute(sql)
                    while batch := cur.fetchmany(10000):
                        rows += len(batch)
            else:
                raise SystemExit(f"unknown mode {mode}")
            conn.commit()
            print(f"{rows} {time.perf_counter() - t0:.6f}", flush=True)


async def _asyncpg(conninfo: str, sql: str, runs: int) -> None:
    import asyncpg  # type: ignore[import-untyped]

    params = dict(p.split("=", 1) for p in conninfo.split())
    conn = await asyncpg.connect(host=params["host"], port=int(params["port"]), user=params["user"],
                                 password=params.get("password"), database=params["dbname"], ssl=False)
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            rows = len(await conn.fetch(sql))
            print(f"{rows} {time.perf_counter() - t0:.6f}", flush=True)
    finally:
        await conn.close()


def main(argv: list[str]) -> int:
    mode, conninfo, sql, runs = argv[0], argv[1], argv[2], int(argv[3])
    if mode == "asyncpg":
        asyncio.run(_asyncpg(conninfo, sql, runs))
    else:
        _psycopg(mode, conninfo, sql, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
