"""`make bench`: the same loads direct to a fake upstream (A) and through Tollway (B), side by
side in one run, repeated, with the NATS floor (bench/floor.py) at each open-loop rate; prints
one table and writes bench/results/<time>.json.

Settings (environment): BENCH_DURATION_S (20), BENCH_REPEATS (3), BENCH_STREAM_DELAY_MS (10),
BENCH_SKIP_SCALING (unset).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
import uvloop

from bench.floor import open_loop_floor
from bench.load import LoadResult, Target, closed_loop, open_loop, percentile
from bench.stack import BENCH_KEY, BENCH_LIMITED_KEY, BenchStack
from bench.upstream import STREAM_CHUNKS

RESULTS = Path(__file__).parent / "results"
CHAT: dict[str, Any] = {"messages": [{"role": "user", "content": "Say hello in five words."}]}


@dataclass
class Settings:
    duration_s: float = float(os.environ.get("BENCH_DURATION_S", "20"))
    repeats: int = int(os.environ.get("BENCH_REPEATS", "3"))
    stream_delay_ms: float = float(os.environ.get("BENCH_STREAM_DELAY_MS", "10"))
    scaling: bool = not os.environ.get("BENCH_SKIP_SCALING")


def _target(
    stack: BenchStack, through_gateway: bool, stream: bool, key: str, model: str = ""
) -> Target:
    body: dict[str, Any] = {**CHAT, "stream": stream}
    if through_gateway:
        body["model"] = model or ("bench-stream" if stream else "bench")
        return Target(stack.edge_url, orjson.dumps(body), {"authorization": f"Bearer {key}"})
    body["model"] = "bench-1"
    return Target(stack.upstream_url(stream), orjson.dumps(body), {})


def _summary(result: LoadResult) -> dict[str, float]:
    latencies = [s.latency_s * 1000 for s in result.samples if s.ok]
    ttfts = [s.ttft_s * 1000 for s in result.samples if s.ok and s.ttft_s is not None]
    summary = {
        "requests_per_s": result.throughput,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "errors": float(result.errors),
        "count": float(len(result.samples)),
    }
    if ttfts:
        summary["ttft_p50_ms"] = percentile(ttfts, 50)
        summary["ttft_p95_ms"] = percentile(ttfts, 95)
    return summary


class ResourceWatch:
    """CPU seconds and peak RSS of each service while a B run is going."""

    def __init__(self, processes: dict[str, list[psutil.Process]]) -> None:
        self.processes = processes
        self.peak_rss: dict[str, float] = {name: 0.0 for name in processes}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._cpu_start = self._cpu()

    def _cpu(self) -> dict[str, float]:
        totals = {}
        for name, procs in self.processes.items():
            totals[name] = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
        return totals

    def _poll(self) -> None:
        while not self._stop.is_set():
            for name, procs in self.processes.items():
                rss = max(p.memory_info().rss for p in procs) / (1 << 20)
                self.peak_rss[name] = max(self.peak_rss[name], rss)
            self._stop.wait(0.25)

    def __enter__(self) -> ResourceWatch:
        self._cpu_start = self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        end = self._cpu()
        self.cpu_s = {name: end[name] - self._cpu_start[name] for name in end}


@dataclass
class Scenario:
    name: str
    stream: bool
    run: Callable[[Target], Awaitable[LoadResult]]
    key: str = BENCH_KEY
    model: str = ""
    # The NATS floor at this load's request rate (bench/floor.py), given the NATS URL.
    floor: Callable[[str], Awaitable[LoadResult]] | None = None
    a: list[dict[str, float]] = field(default_factory=list)
    b: list[dict[str, float]] = field(default_factory=list)
    nats_floor: list[dict[str, float]] = field(default_factory=list)
    cpu_us_per_request: list[dict[str, float]] = field(default_factory=list)
    b_errors: list[dict[str, int]] = field(default_factory=list)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)


def _scenarios(settings: Settings) -> list[Scenario]:
    d = settings.duration_s
    # One stream's length: 20 chunks paced by the upstream.
    stream_s = STREAM_CHUNKS * settings.stream_delay_ms / 1000

    def floor(rate: float) -> Callable[[str], Awaitable[LoadResult]]:
        return lambda url: open_loop_floor(url, rate, d)

    streams = 20
    # The streams start about this many requests per second, one stream_s apart each.
    stream_rate = streams / stream_s
    return [
        Scenario("closed c=32", False, lambda t: closed_loop(t, 32, d)),
        Scenario("closed c=64", False, lambda t: closed_loop(t, 64, d)),
        Scenario("open 50/s", False, lambda t: open_loop(t, 50, d), floor=floor(50)),
        Scenario("open 100/s", False, lambda t: open_loop(t, 100, d), floor=floor(100)),
        Scenario("open 200/s", False, lambda t: open_loop(t, 200, d), floor=floor(200)),
        Scenario(
            "stream c=20",
            True,
            lambda t: closed_loop(t, streams, d, stagger_s=stream_s),
            floor=floor(stream_rate),
        ),
        # The same loads with a key that has rate limits, a parallel cap and a budget.
        Scenario("open 100/s limited", False, lambda t: open_loop(t, 100, d), BENCH_LIMITED_KEY),
        Scenario("open 200/s limited", False, lambda t: open_loop(t, 200, d), BENCH_LIMITED_KEY),
        # Three deployments and a key pool chosen per request (least in-flight).
        Scenario("open 200/s routed", False, lambda t: open_loop(t, 200, d), model="bench-routed"),
    ]


async def _measure(stack: BenchStack, scenarios: list[Scenario], repeats: int) -> None:
    for scenario in scenarios:
        for _ in range(repeats):
            direct = await scenario.run(_target(stack, False, scenario.stream, scenario.key))
            scenario.a.append(_summary(direct))
            if scenario.floor is not None:
                assert stack.nats is not None
                scenario.nats_floor.append(
                    _summary(await scenario.floor(stack.nats.url_as("bench-floor")))
                )
            with ResourceWatch(stack.service_processes()) as watch:
                through = await scenario.run(
                    _target(stack, True, scenario.stream, scenario.key, scenario.model)
                )
            scenario.b.append(_summary(through))
            scenario.b_errors.append(through.error_kinds())
            done = max(1, sum(1 for s in through.samples if s.ok))
            scenario.cpu_us_per_request.append(
                {name: cpu / done * 1e6 for name, cpu in watch.cpu_s.items()}
            )
            stopped = [p.name for p in stack.processes if p.popen.poll() is not None]
            if stopped:
                raise RuntimeError(f"{', '.join(stopped)} stopped; see the logs in {stack.workdir}")
            for name, rss in watch.peak_rss.items():
                scenario.peak_rss_mib[name] = max(scenario.peak_rss_mib.get(name, 0.0), rss)
            floor = ""
            if scenario.nats_floor:
                floor = f" | NATS floor p50 {scenario.nats_floor[-1]['p50_ms']:.2f}"
            print(
                f"  {scenario.name}: A {_brief(scenario.a[-1])} | B {_brief(scenario.b[-1])}"
                + floor
                + _error_note(through),
                flush=True,
            )


def _brief(summary: dict[str, float]) -> str:
    text = (
        f"{summary['requests_per_s']:.0f}/s p50 {summary['p50_ms']:.2f} p99 {summary['p99_ms']:.2f}"
    )
    if "ttft_p50_ms" in summary:
        text += f" ttft {summary['ttft_p50_ms']:.2f}"
    return text + f" err {summary['errors']:.0f}"


def _error_note(result: LoadResult) -> str:
    kinds = result.error_kinds()
    return f"  errors: {kinds}" if kinds else ""


def _mmm(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def _table(title: str, scenarios: list[Scenario]) -> str:
    rows = [f"\n{title}  (min / median / max over repeats; A = direct, B = through Tollway)"]
    for s in scenarios:
        rows.append(f"\n{s.name}")
        for key, label in [
            ("requests_per_s", "req/s"),
            ("p50_ms", "p50 ms"),
            ("p95_ms", "p95 ms"),
            ("p99_ms", "p99 ms"),
            ("ttft_p50_ms", "TTFT p50 ms"),
            ("ttft_p95_ms", "TTFT p95 ms"),
            ("errors", "errors"),
        ]:
            a = [r[key] for r in s.a if key in r]
            b = [r[key] for r in s.b if key in r]
            if not a and not b:
                continue
            added = [rb - ra for ra, rb in zip(a, b, strict=False)]
            extra = "added " + _mmm(added) if key.endswith("ms") else ""
            if key == "requests_per_s":
                extra = "B/A " + _mmm([rb / ra for ra, rb in zip(a, b, strict=False) if ra])
            rows.append(f"  {label:<12} A {_mmm(a):<26} B {_mmm(b):<26} {extra}")
        if s.nats_floor:
            rows.extend(_floor_rows(s))
        cpu = {
            name: statistics.median(r[name] for r in s.cpu_us_per_request)
            for name in s.cpu_us_per_request[0]
        }
        rows.append("  CPU us/req   " + ", ".join(f"{n} {v:.0f}" for n, v in cpu.items()))
        rows.append(
            "  peak RSS MiB " + ", ".join(f"{n} {v:.0f}" for n, v in s.peak_rss_mib.items())
        )
    return "\n".join(rows)


def _floor_rows(s: Scenario) -> list[str]:
    """The NATS floor, and what the gateway adds beyond what its hops cost with no work: the
    NATS request-reply plus one more HTTP round trip, which A measures (p50s only: percentiles
    do not subtract further up the tail)."""
    floor = "  ".join(
        f"{label} {_mmm([r[key] for r in s.nats_floor])}"
        for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))
    )
    key = "ttft_p50_ms" if s.stream else "p50_ms"
    beyond = [
        b[key] - 2 * a[key] - f["p50_ms"] for a, b, f in zip(s.a, s.b, s.nats_floor, strict=False)
    ]
    label = "TTFT p50" if s.stream else "p50"
    return [
        f"  NATS floor   {floor}",
        f"  {label} beyond the floor (B - 2A - NATS floor)  {_mmm(beyond)}",
    ]


def admission_cost(scenarios: list[Scenario]) -> dict[str, dict[str, float]]:
    """What limits add: the limited key's B latency minus the plain key's, medians."""
    by_name = {s.name: s for s in scenarios}
    costs: dict[str, dict[str, float]] = {}
    for rate in ("100/s", "200/s"):
        plain, limited = by_name.get(f"open {rate}"), by_name.get(f"open {rate} limited")
        if plain is None or limited is None or not plain.b or not limited.b:
            continue
        costs[rate] = {
            key: statistics.median(r[key] for r in limited.b)
            - statistics.median(r[key] for r in plain.b)
            for key in ("p50_ms", "p99_ms")
        }
    return costs


def selection_cost(scenarios: list[Scenario]) -> dict[str, float]:
    """What choosing among three deployments and a key pool adds over a single deployment."""
    by_name = {s.name: s for s in scenarios}
    plain, routed = by_name.get("open 200/s"), by_name.get("open 200/s routed")
    if plain is None or routed is None or not plain.b or not routed.b:
        return {}
    costs = {
        key: statistics.median(r[key] for r in routed.b)
        - statistics.median(r[key] for r in plain.b)
        for key in ("p50_ms", "p99_ms")
    }
    router_cpu = [
        statistics.median(r["router"] for r in s.cpu_us_per_request) for s in (routed, plain)
    ]
    costs["router_cpu_us"] = router_cpu[0] - router_cpu[1]
    return costs


def _admission_lines(costs: dict[str, dict[str, float]]) -> str:
    lines = ["\nCost of admission (limits + budget on the key; B limited minus B plain, medians)"]
    lines += [
        f"  at {rate}: p50 {c['p50_ms']:+.2f} ms, p99 {c['p99_ms']:+.2f} ms"
        for rate, c in costs.items()
    ]
    return "\n".join(lines)


def _run_stack(
    settings: Settings, workdir: Path, edge_workers: int, routers: int, only: set[str] | None
) -> list[Scenario]:
    stack = BenchStack(
        workdir,
        edge_workers=edge_workers,
        routers=routers,
        stream_delay_ms=settings.stream_delay_ms,
    )
    scenarios = [s for s in _scenarios(settings) if only is None or s.name in only]
    try:
        stack.start()
        print(
            f"stack: {edge_workers} edge worker(s), {routers} router(s); logs in {workdir}",
            flush=True,
        )
        uvloop.run(_measure(stack, scenarios, settings.repeats))
    finally:
        stack.stop()
    return scenarios


def _as_json(scenarios: list[Scenario]) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "direct": s.a,
            "gateway": s.b,
            "nats_floor": s.nats_floor,
            "cpu_us_per_request": s.cpu_us_per_request,
            "peak_rss_mib": s.peak_rss_mib,
            "gateway_errors": s.b_errors,
        }
        for s in scenarios
    ]


def main() -> int:
    settings = Settings()
    started = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    print(
        f"Tollway bench: {settings.duration_s:.0f} s per run, {settings.repeats} repeats, "
        f"stream chunks {settings.stream_delay_ms:.0f} ms apart",
        flush=True,
    )
    # Kept after the run: the services' logs explain any error the table shows.
    tmp = tempfile.mkdtemp(prefix="tollway-bench-")
    single = _run_stack(settings, Path(tmp) / "single", 1, 1, None)
    scaled: list[Scenario] = []
    if settings.scaling:
        scaled = _run_stack(
            settings, Path(tmp) / "scaled", 2, 2, {"closed c=64", "open 200/s", "stream c=20"}
        )
    report = _table("One edge worker, one router", single)
    costs = admission_cost(single)
    if costs:
        report += "\n" + _admission_lines(costs)
    selection = selection_cost(single)
    if selection:
        report += (
            "\nCost of selection (3 deployments + a key pool, least in-flight, vs one; 200/s): "
            f"p50 {selection['p50_ms']:+.2f} ms, p99 {selection['p99_ms']:+.2f} ms, "
            f"router CPU {selection['router_cpu_us']:+.0f} us/request"
        )
    if scaled:
        report += "\n" + _table("Two edge workers, two routers", scaled)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{started}.json"
    out.write_text(
        json.dumps(
            {
                "started": started,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                },
                "settings": vars(settings),
                "single": _as_json(single),
                "admission_cost_ms": costs,
                "selection_cost": selection,
                "scaled": _as_json(scaled),
            },
            indent=2,
        )
    )
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
