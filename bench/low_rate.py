"""CPU per request and added latency at one low fixed rate, and each service's CPU while idle,
for comparing two commits in the same window (docs/bench.md, "Low rates: 6 December against
7 December, same window").

Run: python -m bench.low_rate [seconds per load, default 10] [repeats, default 3]
(BENCH_CPU_RATE, default 100 requests/s; BENCH_LOW_RATE_OUT, a file to append one JSON line
per run to; BENCH_LOW_RATE_STRACE, a folder: edge and router are also counted by `strace -c`
while idle and during one more run at the rate, for system calls per request, which unlike
CPU time do not depend on what else the machine is doing; BENCH_LOW_RATE_PYSPY, a folder:
the same two windows sampled by `py-spy record --format raw`, py-spy on the PATH;
BENCH_LOW_RATE_PRELOAD_S, seconds of closed-loop load at c=64 through the gateway before
measuring, as `make bench` runs its closed loops before its open-loop rates;
BENCH_LOW_RATE_AT, a Unix time to start measuring at, so two copies running at once, one per
commit, measure in the same seconds: a paired comparison that the machine's swings move
together.)

It uses only what bench.stack, bench.run and bench.load offered on 2026-12-06 as well, so a
copy of this file outside both trees, run with each tree as the working directory, measures
either commit the same way. Each repeat sends plain requests open-loop at the rate straight to
the fake upstream (A) and then through the gateway (B); added = B - A on p50 and p99, latency
counted from each request's scheduled time. Idle CPU is each service's CPU per second with no
requests at all: its periodic timers and background tasks, which a low rate divides by few
requests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
import uvloop

from bench import stack as bench_stack
from bench.load import closed_loop, open_loop
from bench.run import ResourceWatch, _summary, _target
from bench.stack import BENCH_KEY, BenchStack

SERVICES = ("edge", "router", "metering", "nats-server")
RATE = float(os.environ.get("BENCH_CPU_RATE", "100"))
IDLE_S = 10.0
PRELOAD_S = float(os.environ.get("BENCH_LOW_RATE_PRELOAD_S", "0"))
START_AT = float(os.environ.get("BENCH_LOW_RATE_AT", "0"))


TRACED = ("edge", "router")


def _tracer(tool: str, out: Path, pids: list[int], seconds: float) -> list[str]:
    if tool == "strace":
        return ["strace", "-f", "-c", "-o", str(out), *[f"-p{pid}" for pid in pids]]
    # py-spy follows one process; with one edge worker the first is the one that serves.
    rate = ["-r", "250", "-d", f"{seconds:.0f}"]
    return ["py-spy", "record", "--format", "raw", *rate, "-o", str(out), "-p", str(pids[0])]


@asynccontextmanager
async def _traced(stack: BenchStack, tool: str, label: str, seconds: float) -> AsyncIterator[None]:
    """`strace -f -c` (system calls) or `py-spy record` (stacks) on edge and router while the
    block runs, one file each in the folder BENCH_LOW_RATE_STRACE or BENCH_LOW_RATE_PYSPY.
    (asyncio subprocesses: tollway_cli.processes, the supervisor, did not exist on the 6th.)"""
    folder = os.environ.get(f"BENCH_LOW_RATE_{tool.replace('-', '').upper()}")
    if not folder:
        yield
        return
    tracers = []
    quiet = asyncio.subprocess.DEVNULL
    for name, processes in stack.service_processes().items():
        if name in TRACED:
            out = Path(folder) / f"{_commit()}-{label}-{name}.txt"
            command = _tracer(tool, out, [process.pid for process in processes], seconds)
            tracers.append(
                await asyncio.create_subprocess_exec(*command, stdout=quiet, stderr=quiet)
            )
    await asyncio.sleep(1.0)  # the tracers attach before the block starts
    try:
        yield
    finally:
        for tracer in tracers:
            if tool == "strace":
                tracer.send_signal(signal.SIGINT)
        for tracer in tracers:
            await asyncio.wait_for(tracer.wait(), 30)


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


async def _idle(stack: BenchStack) -> dict[str, float]:
    """Each service's CPU microseconds per second with no requests."""
    with ResourceWatch(stack.service_processes()) as watch:
        started = time.perf_counter()
        await asyncio.sleep(IDLE_S)
        elapsed = time.perf_counter() - started
    return {name: watch.cpu_s.get(name, 0.0) / elapsed * 1e6 for name in SERVICES}


async def _repeat(stack: BenchStack, duration_s: float) -> dict[str, float]:
    direct = _summary(await open_loop(_target(stack, False, False, BENCH_KEY), RATE, duration_s))
    with ResourceWatch(stack.service_processes()) as watch:
        result = await open_loop(_target(stack, True, False, BENCH_KEY), RATE, duration_s)
    through = _summary(result)
    done = max(1, sum(1 for sample in result.samples if sample.ok))
    figures = {name: watch.cpu_s.get(name, 0.0) / done * 1e6 for name in SERVICES}
    figures.update(
        ok=float(done),
        errors=through["errors"],
        a_p50=direct["p50_ms"],
        a_p99=direct["p99_ms"],
        b_p50=through["p50_ms"],
        b_p99=through["p99_ms"],
        added_p50=through["p50_ms"] - direct["p50_ms"],
        added_p99=through["p99_ms"] - direct["p99_ms"],
    )
    return figures


def _line(figures: dict[str, float]) -> str:
    cpu = " ".join(f"{name} {figures[name]:.0f}" for name in SERVICES)
    return (
        f"{figures['ok']:.0f} ok, {figures['errors']:.0f} errors; CPU us/request: {cpu}; "
        f"added p50 {figures['added_p50']:.2f} p99 {figures['added_p99']:.2f} ms "
        f"(A {figures['a_p50']:.2f}/{figures['a_p99']:.2f})"
    )


async def _run(stack: BenchStack, duration_s: float, repeats: int) -> dict[str, object]:
    await open_loop(_target(stack, True, False, BENCH_KEY), RATE, 2.0)  # warm up
    if START_AT:
        await asyncio.sleep(max(0.0, START_AT - time.time()))
    if PRELOAD_S:
        preload = await closed_loop(_target(stack, True, False, BENCH_KEY), 64, PRELOAD_S)
        print(f"  preload: {len(preload.samples)} requests at c=64", flush=True)
        await asyncio.sleep(2.0)
    idle = await _idle(stack)
    print("  idle CPU us/s: " + " ".join(f"{n} {idle[n]:.0f}" for n in SERVICES), flush=True)
    runs = []
    for _ in range(repeats):
        runs.append(await _repeat(stack, duration_s))
        print(f"  {_line(runs[-1])}", flush=True)
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(f"  median: {_line(medians)}", flush=True)
    target = _target(stack, True, False, BENCH_KEY)
    for tool in ("strace", "py-spy"):
        if os.environ.get(f"BENCH_LOW_RATE_{tool.replace('-', '').upper()}"):
            async with _traced(stack, tool, "idle", IDLE_S):
                await asyncio.sleep(IDLE_S)
            async with _traced(stack, tool, f"rate{RATE:.0f}x{RATE * duration_s:.0f}", duration_s):
                await open_loop(target, RATE, duration_s)
    return {
        "rate": RATE,
        "preload_s": PRELOAD_S,
        "idle_us_per_s": idle,
        "runs": runs,
        "median": medians,
    }


def main() -> int:
    duration_s = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    bench_stack.READY_TIMEOUT_S = 120.0
    stack = BenchStack(Path(tempfile.mkdtemp(prefix="tollway-low-rate-")))
    commit = _commit()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        stack.start()
        print(f"{commit}: stack up; logs in {stack.workdir}", flush=True)
        record = uvloop.run(_run(stack, duration_s, repeats))
    finally:
        stack.stop()
    out = os.environ.get("BENCH_LOW_RATE_OUT")
    if out:
        with Path(out).open("ab") as file:
            file.write(orjson.dumps({"commit": commit, "started": started, **record}) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
