"""Python calls and syscalls one service (the edge or the router) makes per plain request, per
stream and per stream chunk: deterministic counts for comparing two versions of a service on a
shared machine, where CPU time is noise.

Run: python -m bench.service_cost edge|router [plain requests] [streams-or-seconds]
  router: 2,000 requests, then 100 streams, 5 at a time (the router's third round);
  edge: 1,000 requests, then 10 s of 20 clients streaming, staggered (the edge's third round).
Plain requests go at BENCH_CPU_RATE (default 150/s; docs/bench.md counts the router at 40/s,
where each request is alone in it); BENCH_STREAM_DELAY_MS (default 10) paces the upstream's
chunks; BENCH_PROFILE_TOP (default 25) frames are printed; the tables and statistics go to
BENCH_PROFILE_DIR (default a new temporary folder).

The service runs under `bench.profiled`, which profiles only between two signals (SIGUSR1
starts cProfile, SIGUSR2 stops it and writes the stats), so the counts hold the measured
requests and nothing of start-up or warm-up. With the profiler off the same load runs again
under `strace -f -c` for syscalls: strace and cProfile together would each distort the other.
"""

from __future__ import annotations

import os
import pstats
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvloop

from bench import stack as bench_stack
from bench.load import LoadResult, closed_loop, open_loop
from bench.profiled import STATS_ENV
from bench.run import _target
from bench.stack import BENCH_KEY, BenchStack, Wrapper
from bench.upstream import STREAM_CHUNKS
from tollway_cli.processes import spawn

STRACE = Path("/usr/bin/strace")
RATE = float(os.environ.get("BENCH_CPU_RATE", "150"))
TOP = int(os.environ.get("BENCH_PROFILE_TOP", "25"))


def _streams_to_seconds(stack: BenchStack, streams: int) -> float:
    """5 clients streaming until about `streams` finished: a fixed amount of work."""
    return streams * STREAM_CHUNKS * stack.stream_delay_ms / 1000 / 5 + 0.5


@dataclass(frozen=True)
class Measured:
    """One service and the loads its figures in docs/bench.md were counted over."""

    module: str
    process: str  # its name among the bench stack's processes
    requests: int
    streaming: int  # the third argument's default: streams or seconds
    stream_clients: int
    stagger_s: float
    stream_seconds: Callable[[BenchStack, int], float]


SERVICES = {
    "router": Measured("tollway_router", "router-0", 2000, 100, 5, 0.0, _streams_to_seconds),
    "edge": Measured("tollway_edge", "edge", 1000, 10, 20, 0.2, lambda _stack, s: float(s)),
}


def syscalls(table: str) -> dict[str, int]:
    """Calls per syscall from `strace -c`'s table, its `total` row included."""
    found: dict[str, int] = {}
    for line in table.splitlines():
        parts = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(parts) >= 5 and parts[3].isdigit():
            found[parts[-1]] = int(parts[3])
    return found


def per_unit(done: int, stream: bool) -> list[tuple[str, int]]:
    """What a count is divided by: requests, or streams and their chunks."""
    done = max(1, done)
    return [("stream", done), ("chunk", done * STREAM_CHUNKS)] if stream else [("request", done)]


class Run:
    """The loads, the profile and the trace of one service in a started bench stack."""

    def __init__(
        self, measured: Measured, stack: BenchStack, stats_file: Path, out_dir: Path
    ) -> None:
        self.measured = measured
        self.stack = stack
        self.stats_file = stats_file
        self.out_dir = out_dir

    @property
    def pid(self) -> int:
        return next(p.pid for p in self.stack.processes if p.name == self.measured.process)

    def load(self, stream: bool, amount: int) -> LoadResult:
        target = _target(self.stack, True, stream, BENCH_KEY)
        if stream:
            seconds = self.measured.stream_seconds(self.stack, amount)
            clients, stagger = self.measured.stream_clients, self.measured.stagger_s
            return uvloop.run(closed_loop(target, clients, seconds, stagger_s=stagger))
        return uvloop.run(open_loop(target, RATE, amount / RATE))

    def warm_up(self) -> None:
        """Imports, pools, the catalog: 300 plain requests and a second of streams."""
        self.load(False, 300)
        target = _target(self.stack, True, True, BENCH_KEY)
        uvloop.run(closed_loop(target, 5, 1.0))

    def profile(self, stream: bool, amount: int) -> None:
        name = "stream" if stream else "plain"
        os.kill(self.pid, signal.SIGUSR1)
        time.sleep(0.2)
        result = self.load(stream, amount)
        os.kill(self.pid, signal.SIGUSR2)
        for _ in range(100):
            if self.stats_file.exists() and self.stats_file.stat().st_size > 0:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        done = len(result.samples) - result.errors
        print(f"\n== {name}: {done} ok, {result.errors} errors")
        stats = pstats.Stats(str(self.stats_file))
        calls = stats.total_calls  # type: ignore[attr-defined]
        print(
            "  Python calls "
            + ", ".join(f"per {u}: {calls / n:.0f}" for u, n in per_unit(done, stream))
        )
        stats.sort_stats("tottime").print_stats(TOP)
        text = self.out_dir / f"{name}.txt"
        with text.open("w") as sink:
            on_file = pstats.Stats(str(self.stats_file), stream=sink)
            on_file.sort_stats("tottime").print_stats(TOP)
            on_file.sort_stats("ncalls").print_stats(TOP)
        self.stats_file.rename(text.with_suffix(".pstats"))
        print(f"  top frames by own time and by calls in {text}")

    def strace(self, stream: bool, amount: int) -> None:
        name = "stream" if stream else "plain"
        if not STRACE.exists():
            print(f"\n== {name}: no syscall counts, {STRACE} is not installed")
            return
        table = self.out_dir / f"{name}.strace"
        command = [str(STRACE), "-f", "-c", "-o", str(table), "-p", str(self.pid)]
        tracer = spawn("strace", command, self.stack.workdir / "strace.log")
        time.sleep(1.0)
        result = self.load(stream, amount)
        tracer.stop(30)  # strace detaches on SIGTERM and writes its summary
        done = len(result.samples) - result.errors
        units = per_unit(done, stream)
        counts = syscalls(table.read_text())
        total = counts.pop("total", 0)
        print(f"\n== strace -c, {name}: {done} ok, {result.errors} errors (table in {table})")
        print("  syscalls " + ", ".join(f"per {u}: {total / n:.1f}" for u, n in units))
        print(f"  {'syscall':<16}" + "".join(f"{'per ' + u:>12}" for u, _ in units))
        for syscall, count in sorted(counts.items(), key=lambda item: -item[1]):
            print(f"  {syscall:<16}" + "".join(f"{count / n:12.2f}" for _, n in units))


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in SERVICES:
        print(__doc__, file=sys.stderr)
        return 2
    measured = SERVICES[sys.argv[1]]
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else measured.requests
    streaming = int(sys.argv[3]) if len(sys.argv) > 3 else measured.streaming
    prefix = f"{sys.argv[1]}-cost-"
    out_dir = Path(os.environ.get("BENCH_PROFILE_DIR") or tempfile.mkdtemp(prefix=prefix))
    out_dir.mkdir(parents=True, exist_ok=True)
    bench_stack.READY_TIMEOUT_S = 120.0
    workdir = Path(tempfile.mkdtemp(prefix="tollway-service-cost-"))
    stats_file = workdir / f"{measured.module}.pstats"
    stack = BenchStack(
        workdir,
        stream_delay_ms=float(os.environ.get("BENCH_STREAM_DELAY_MS", "10")),
        wrappers={measured.module: Wrapper("bench.profiled", {STATS_ENV: str(stats_file)})},
    )
    run = Run(measured, stack, stats_file, out_dir)
    try:
        stack.start()
        run.warm_up()
        run.profile(False, requests)
        run.strace(False, requests)
        run.profile(True, streaming)
        run.strace(True, streaming)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
