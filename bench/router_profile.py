"""Python calls and syscalls the router makes per request and per stream chunk: deterministic
counts for comparing two versions of the router on a shared machine, where CPU time is noise.

Run: python -m bench.router_profile [plain requests, default 2000] [streams, default 100]

The router runs under `bench.profiled_router`, which profiles only between two signals
(SIGUSR1 starts cProfile, SIGUSR2 stops it and writes the stats), so the counts hold the
measured requests and nothing of start-up or warm-up. While the profiler is off the same
requests run again under `strace -c -f` (when /usr/bin/strace exists) for syscalls per
request: strace and cProfile together would each distort the other.
"""

from __future__ import annotations

import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from bench import stack as bench_stack
from bench.load import LoadResult, closed_loop, open_loop
from bench.run import _target
from bench.stack import BENCH_KEY, BenchStack
from bench.upstream import STREAM_CHUNKS
from tollway_cli.processes import ManagedProcess

STRACE = "/usr/bin/strace"
RATE = float(os.environ.get("BENCH_CPU_RATE", "150"))
TOP = 25


def _router_pid(stack: BenchStack) -> int:
    processes = stack.service_processes()["router"]
    return processes[0].pid


def _load(stack: BenchStack, stream: bool, count: int) -> LoadResult:
    target = _target(stack, True, stream, BENCH_KEY)
    if stream:
        # Streams at 5 in parallel until `count` finished: a fixed amount of work.
        seconds = count * STREAM_CHUNKS * stack.stream_delay_ms / 1000 / 5 + 0.5
        return uvloop.run(closed_loop(target, 5, seconds))
    return uvloop.run(open_loop(target, RATE, count / RATE))


def _ok(result: LoadResult) -> int:
    return max(1, sum(1 for s in result.samples if s.ok))


def _profile(stack: BenchStack, stream: bool, count: int, out: Path) -> None:
    pid = _router_pid(stack)
    stats_file = stack.workdir / "router.pstats"
    os.kill(pid, signal.SIGUSR1)
    time.sleep(0.2)
    result = _load(stack, stream, count)
    os.kill(pid, signal.SIGUSR2)
    for _ in range(100):
        if stats_file.exists() and stats_file.stat().st_size > 0:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    done = _ok(result)
    stats = pstats.Stats(str(stats_file))
    unit = done * (STREAM_CHUNKS if stream else 1)
    what = "chunk" if stream else "request"
    print(f"{'streams' if stream else 'plain'}: {done} ok, {result.errors} errors")
    print(f"  Python calls per {what}: {stats.total_calls / unit:.0f}")  # type: ignore[attr-defined]
    with out.open("w") as sink:
        stats.stream = sink  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(TOP)
        stats.sort_stats("ncalls").print_stats(TOP)
    stats_file.rename(out.with_suffix(".pstats"))
    print(f"  top frames in {out}")


def _strace(stack: BenchStack, stream: bool, count: int, out: Path) -> None:
    if not Path(STRACE).exists():
        return
    pid = _router_pid(stack)
    tracer = subprocess.Popen(
        [STRACE, "-f", "-c", "-o", str(out), "-p", str(pid)], stderr=subprocess.DEVNULL
    )
    time.sleep(1.0)
    result = _load(stack, stream, count)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=30)
    done = _ok(result)
    unit = done * (STREAM_CHUNKS if stream else 1)
    total = 0
    for line in out.read_text().splitlines():
        if line.rstrip().endswith("total"):
            fields = line.split()
            total = int(fields[3])
    what = "chunk" if stream else "request"
    print(f"  syscalls per {what}: {total / unit:.1f} (table in {out})")


def main() -> int:
    plain = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    streams = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    out_dir = Path(os.environ.get("BENCH_PROFILE_DIR", tempfile.mkdtemp(prefix="router-prof-")))
    out_dir.mkdir(parents=True, exist_ok=True)
    bench_stack.READY_TIMEOUT_S = 120.0
    stack = BenchStack(
        Path(tempfile.mkdtemp(prefix="tollway-prof-")),
        stream_delay_ms=float(os.environ.get("BENCH_STREAM_DELAY_MS", "10")),
    )
    spawn = stack._spawn

    def spawn_profiled(name: str, args: list[str], env: dict[str, str]) -> ManagedProcess:
        if args == ["-m", "tollway_router"]:
            args = ["-m", "bench.profiled_router"]
            env = {**env, "BENCH_ROUTER_STATS": str(stack.workdir / "router.pstats")}
        return spawn(name, args, env)

    stack._spawn = spawn_profiled  # type: ignore[method-assign]
    try:
        stack.start()
        _load(stack, False, 300)  # warm up: imports, pools, the catalog
        _load(stack, True, 10)
        _profile(stack, False, plain, out_dir / "plain.txt")
        _strace(stack, False, plain, out_dir / "plain.strace")
        _profile(stack, True, streams, out_dir / "stream.txt")
        _strace(stack, True, streams, out_dir / "stream.strace")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
