"""CPU per request and per stream chunk of each service, for comparing two versions of the
code on a busy machine where wall-clock figures are noise: the same fixed-rate loads each
time, and each service's process CPU divided by the work it did.

Run: python -m bench.cpu_cost [seconds per load, default 10] [repeats, default 2]
(BENCH_STREAM_DELAY_MS, default 10, paces the upstream's stream chunks; 0 sends them back to
back, as a fast model's tokens arrive.)

Plain requests run open-loop at a fixed rate (BENCH_CPU_RATE, default 150/s): CPU per request
falls as the rate rises (writes batch, fewer wake-ups per request), so two versions are only
comparable at the same rate, which a closed loop on a busy machine does not keep. Streams
are 20 clients streaming 20 chunks 10 ms apart, and per chunk is a stream's CPU over its
chunks (the stream's own setup included, as docs/bench.md has counted it).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import uvloop

from bench import stack as bench_stack
from bench.load import LoadResult, Target, closed_loop, open_loop
from bench.run import ResourceWatch, _target
from bench.stack import BENCH_KEY, BenchStack
from bench.upstream import STREAM_CHUNKS

SERVICES = ("edge", "router", "metering", "nats-server")
PLAIN_RATE = float(os.environ.get("BENCH_CPU_RATE", "150"))
STREAMS = 20


async def _measure(stack: BenchStack, stream: bool, duration_s: float) -> dict[str, float]:
    target: Target = _target(stack, True, stream, BENCH_KEY)
    with ResourceWatch(stack.service_processes()) as watch:
        result: LoadResult
        if stream:
            stream_s = max(STREAM_CHUNKS * stack.stream_delay_ms / 1000, 0.01)
            result = await closed_loop(target, STREAMS, duration_s, stagger_s=stream_s)
        else:
            result = await open_loop(target, PLAIN_RATE, duration_s)
    done = max(1, sum(1 for s in result.samples if s.ok))
    figures = {name: watch.cpu_s.get(name, 0.0) / done * 1e6 for name in SERVICES}
    figures["requests"] = float(done)
    figures["per_s"] = result.throughput
    figures["errors"] = float(result.errors)
    return figures


async def _run(stack: BenchStack, duration_s: float, repeats: int) -> None:
    plain: list[dict[str, float]] = []
    streams: list[dict[str, float]] = []
    await _measure(stack, False, 2.0)  # warm up: imports, pools, the catalog
    for _ in range(repeats):
        plain.append(await _measure(stack, False, duration_s))
        streams.append(await _measure(stack, True, duration_s))
        print(f"  plain {_line(plain[-1])}\n  stream {_line(streams[-1])}", flush=True)
    print("medians, CPU us:")
    for name in SERVICES:
        per_request = statistics.median(r[name] for r in plain)
        per_stream = statistics.median(r[name] for r in streams)
        print(
            f"  {name:<12} per request {per_request:6.0f}   per stream {per_stream:6.0f}"
            f"   per chunk {per_stream / STREAM_CHUNKS:6.1f}"
        )


def _line(figures: dict[str, float]) -> str:
    cpu = ", ".join(f"{name} {figures[name]:.0f}" for name in SERVICES)
    done = f"{figures['requests']:.0f} ok ({figures['per_s']:.0f}/s)"
    return f"{done}, {figures['errors']:.0f} errors; us each: {cpu}"


def main() -> int:
    duration_s = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    # A shared machine can take a while to import and start every service.
    bench_stack.READY_TIMEOUT_S = 120.0
    stack = BenchStack(
        Path(tempfile.mkdtemp(prefix="tollway-cpu-")),
        stream_delay_ms=float(os.environ.get("BENCH_STREAM_DELAY_MS", "10")),
    )
    try:
        stack.start()
        print(f"stack up; logs in {stack.workdir}", flush=True)
        uvloop.run(_run(stack, duration_s, repeats))
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
