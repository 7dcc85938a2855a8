"""The edge's deterministic cost per plain request and per stream: Python calls (cProfile
inside the edge, `bench.edge_profiled`) and syscalls (`strace -c` on the edge's process), each
over its own fixed load so neither tool's overhead leaks into the other's figures.

Run: python -m bench.edge_cost [plain requests, default 1000] [top frames, default 25]
Plain requests go at BENCH_CPU_RATE (default 150/s); streams are 20 clients streaming 20 chunks.
"""

from __future__ import annotations

import os
import pstats
import signal
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
from tollway_cli.processes import spawn

RATE = float(os.environ.get("BENCH_CPU_RATE", "150"))
STREAMS = 20


class ProfiledEdgeStack(BenchStack):
    """The bench stack with the edge started under `bench.edge_profiled`."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.profile_path = workdir / "edge.prof"

    def _spawn(self, name: str, args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
        if name == "edge":
            args = ["-m", "bench.edge_profiled"]
            env = {**env, "TOLLWAY_EDGE_PROFILE": str(self.profile_path)}
        return super()._spawn(name, args, env)

    def edge_pid(self) -> int:
        return next(p.pid for p in self.processes if p.name == "edge")


async def _load(stack: BenchStack, stream: bool, count: int) -> int:
    target = _target(stack, True, stream, BENCH_KEY)
    result: LoadResult
    if stream:
        result = await closed_loop(target, STREAMS, count, stagger_s=0.2)
    else:
        result = await open_loop(target, RATE, count / RATE)
    return sum(1 for sample in result.samples if sample.ok)


def _profiled(stack: ProfiledEdgeStack, stream: bool, amount: int, top: int) -> None:
    pid = stack.edge_pid()
    os.kill(pid, signal.SIGUSR1)
    done = uvloop.run(_load(stack, stream, amount))
    os.kill(pid, signal.SIGUSR2)
    for _ in range(100):
        time.sleep(0.1)
        if stack.profile_path.exists() and stack.profile_path.stat().st_size:
            break
    time.sleep(0.5)
    stats = pstats.Stats(str(stack.profile_path))
    unit = "stream" if stream else "request"
    calls = stats.total_calls  # type: ignore[attr-defined]
    print(f"\n== cProfile, {done} {unit}s: {calls / done:.0f} Python calls per {unit}", end="")
    print(f" ({calls / done / STREAM_CHUNKS:.0f} per chunk)" if stream else "")
    stats.sort_stats("tottime").print_stats(top)
    stack.profile_path.unlink()


def _straced(stack: ProfiledEdgeStack, stream: bool, amount: int) -> None:
    output = stack.workdir / "edge.strace"
    command = ["/usr/bin/strace", "-f", "-c", "-o", str(output), "-p", str(stack.edge_pid())]
    tracer = spawn("strace", command, stack.workdir / "strace.log")
    time.sleep(1.0)
    done = uvloop.run(_load(stack, stream, amount))
    tracer.stop(30)  # strace detaches on SIGTERM and writes its summary
    unit = "stream" if stream else "request"
    print(f"\n== strace -c, {done} {unit}s: syscalls per {unit}")
    for line in output.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[3].isdigit():
            name = parts[-1]
            print(f"  {name:<16} {int(parts[3]) / done:8.2f}")


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    bench_stack.READY_TIMEOUT_S = 120.0
    stack = ProfiledEdgeStack(Path(tempfile.mkdtemp(prefix="tollway-edge-cost-")))
    try:
        stack.start()
        uvloop.run(_load(stack, False, 300))  # warm up
        _profiled(stack, False, count, top)
        _straced(stack, False, count)
        stream_s = 10
        _profiled(stack, True, stream_s, top)
        _straced(stack, True, stream_s)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
