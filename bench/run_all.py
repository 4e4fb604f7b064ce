"""Run every benchmark against one shared environment (one PostgreSQL, one gateway, one data load).

    .venv/bin/python -m bench.run_all [--quick] [--only stream,latency] [any script's options]

`make bench` runs this. Each benchmark writes bench/results/<name>.json (--quick: build/bench/quick/),
and the printed tables are also collected in <out>/summary.md with the date and the machine.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from contextlib import redirect_stdout
from datetime import UTC, datetime

from bench import compile as compile_bench
from bench import concurrency, latency, load, memory, stream
from bench.common import Bench, base_parser, finish_options, format_table, machine_info, run_benches

BENCHES: tuple[Bench, ...] = (compile_bench.BENCH, latency.BENCH, stream.BENCH, load.BENCH, concurrency.BENCH,
                              memory.BENCH)


class _Tee(io.TextIOBase):
    def __init__(self, *streams: io.TextIOBase) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self) -> None:
        for st in self.streams:
            st.flush()


def main(argv: Sequence[str] | None = None) -> int:
    p = base_parser("run every benchmark (make bench)")
    p.add_argument("--only", help="comma-separated subset of " + ",".join(b.NAME for b in BENCHES))
    for b in BENCHES:
        b.add_arguments(p)
    opts = finish_options(p.parse_args(argv))
    chosen = [b for b in BENCHES if not opts.only or b.NAME in opts.only.split(",")]
    log = io.StringIO()
    with redirect_stdout(_Tee(sys.stdout, log)):  # type: ignore[arg-type]
        reports = run_benches(chosen, opts)
    m = machine_info()
    lines = [f"# Benchmark results — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
             "",
             f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_mb']} MB RAM, Linux {m['kernel']}, "
             f"Python {m['python']}; load average at the end {m['load_avg_at_start']} "
             "(the machine is shared with other work: figures are noisy, ratios come from the same run).",
             ""]
    for r in reports:
        lines += [f"## {r.name}", "", format_table(r), ""]
        lines += [f"- {n}" for n in r.notes]
        lines.append("")
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (opts.out / "run_all.log").write_text(log.getvalue(), encoding="utf-8")
    print(f"summary: {opts.out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
