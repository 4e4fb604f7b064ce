"""py-spy around a block of benchmark runs, summarised as where the gateway's time went."""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


class py_spy:
    """Record the gateway with py-spy while the block runs, then summarise where its time went."""

    def __init__(self, pid: int, out: Path, notes: list[str], during: str) -> None:
        self.pid = pid
        self.during = during
        self.out = out
        self.notes = notes
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(exe).exists():
            self.notes.append("profile: py-spy is not installed")
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([exe, "record", "--pid", str(self.pid), "--format", "raw", "--rate", "250",
                                      "--nonblocking", "--output", str(self.out)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # let it attach before the measured runs start

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            _out, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _out, err = self.proc.communicate()
        if not self.out.exists():
            self.notes.append(f"profile: py-spy wrote nothing ({err.decode(errors='replace').strip()[-200:]})")
            return
        self.notes += summarise_profile(self.out.read_text(errors="replace"), self.during)


def summarise_profile(collapsed: str, during: str, top: int = 12) -> list[str]:
    """Self and inclusive sample shares from py-spy's collapsed stacks ("a;b;c count").

    Inclusive shares list only the project's own functions (gateway/, virtual_schema/): the event
    loop's frames are in every sample and say nothing. Samples are also split by thread kind: the
    event loop (encoding, socket writes) vs the worker threads (DuckDB producing batches).
    """
    self_counts: collections.Counter[str] = collections.Counter()
    incl_counts: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        threads["worker threads (DuckDB, thread pool)" if frames[0].startswith("Thread._bootstrap")
                else "event loop thread"] += n
        self_counts[_short(frames[-1])] += n
        for f in {_short(f) for f in frames if "gateway/" in f or "virtual_schema/" in f}:
            incl_counts[f] += n
    if not total:
        return ["profile: no samples"]
    out = [f"profile (py-spy, {total} samples of the gateway during {during}): "
           + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in threads.most_common())]
    out.append("profile, self time (leaf function):")
    out += [f"  {100 * n / total:5.1f}% {f}" for f, n in self_counts.most_common(top)]
    out.append("profile, inclusive time of the project's functions:")
    out += [f"  {100 * n / total:5.1f}% {f}" for f, n in incl_counts.most_common(top)]
    return out


def _short(frame: str) -> str:
    # "func (pkg/path/file.py:123)" → "func (path/file.py)"
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(Path(file).parts[-2:])})" if file else name
