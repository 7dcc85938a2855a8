"""`make soak`: the chaos stack without the chaos: a mixed load (chat, Messages, embeddings, half
streams) at a fixed rate for a long time, with each service's RSS, open descriptors and CPU,
and the clients' latency, reported every minute. After the warm-up, memory and descriptors over
the last five minutes must stay within 10 % of the first five (each read at its lowest
minute), and no request may fail. Writes
bench/results/soak-<time>.json and .md.

Settings (environment): SOAK_MINUTES (30), SOAK_RATE (100 requests/s), SOAK_WARMUP_MINUTES (5).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.chaos_stack import CHAT_MODEL, EMBED_MODEL, KEY, ChaosStack
from bench.load import percentile
from bench.outcome import Judged
from bench.traffic import Traffic, kinds

RESULTS = Path(__file__).parent / "results"
FLAT_WITHIN = 0.10
# Minutes compared at each end of the run (after the warm-up).
FLAT_WINDOW_MINUTES = 5
_FLAT_MEASURES = ("rss_mib", "fds")
SAMPLE_EVERY_S = 5.0


@dataclass
class Settings:
    minutes: float = float(os.environ.get("SOAK_MINUTES", "30"))
    rate: float = float(os.environ.get("SOAK_RATE", "100"))
    # Until the steady state: the usage stream's 3-minute dedup window full, idle connections
    # closed after their 60 s, metering's tables through their first parts cleanup.
    warmup_minutes: int = int(os.environ.get("SOAK_WARMUP_MINUTES", "5"))


def _sample(stack: ChaosStack) -> dict[str, dict[str, float]]:
    """Per process tree: RSS (MiB), open descriptors, threads, CPU seconds so far."""
    found: dict[str, dict[str, float]] = {}
    for name, processes in stack.service_processes().items():
        rss = fds = threads = cpu = 0.0
        for process in processes:
            try:
                rss += process.memory_info().rss / (1 << 20)
                fds += process.num_fds()
                threads += process.num_threads()
                times = process.cpu_times()
                cpu += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        found[name] = {
            "rss_mib": round(rss, 1),
            "fds": fds,
            "threads": threads,
            "cpu_s": round(cpu, 1),
        }
    return found


def _latency(answers: list[Judged], since: float, until: float) -> dict[str, Any]:
    window = [j for j in answers if since <= j.answer.ended < until]
    by_kind: dict[str, Any] = {}
    for kind in sorted({j.answer.kind for j in window}):
        ms = [
            (j.answer.ended - j.answer.started) * 1000
            for j in window
            if j.answer.kind == kind and j.ok
        ]
        by_kind[kind] = {
            "p50_ms": round(percentile(ms, 50), 1),
            "p99_ms": round(percentile(ms, 99), 1),
        }
    failed = [j for j in window if not j.ok]
    return {
        "requests": len(window),
        "errors": len(failed),
        "error_kinds": dict(Counter(f"{j.verdict}:{j.answer.status}" for j in failed)),
        "latency": by_kind,
    }


def _median(samples: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """The median of each measure over a minute's samples (one sample is noisy: descriptors
    come and go with the connections in flight)."""
    found: dict[str, dict[str, float]] = {}
    for name in samples[-1]:
        found[name] = {
            measure: statistics.median(s[name][measure] for s in samples if name in s)
            for measure in samples[-1][name]
        }
    return found


async def _run(stack: ChaosStack, settings: Settings, minutes: list[dict[str, Any]]) -> None:
    """Drive the load, appending each minute's figures to `minutes` as it ends (so an
    interrupted run still reports the minutes it finished)."""
    traffic = Traffic(stack.edge_port, KEY, kinds(CHAT_MODEL, EMBED_MODEL))
    load = asyncio.create_task(traffic.run(settings.rate, settings.minutes * 60))
    started = time.time()
    loop = asyncio.get_running_loop()
    while not load.done():
        samples: list[dict[str, dict[str, float]]] = []
        since = started + 60 * len(minutes)
        while not load.done() and time.time() < since + 60:
            samples.append(await loop.run_in_executor(None, _sample, stack))
            await asyncio.wait(
                {load}, timeout=min(SAMPLE_EVERY_S, max(0.0, since + 60 - time.time()))
            )
        until = time.time()
        minute = {
            "minute": len(minutes) + 1,
            "full": until - since >= 59,
            "load_1m": round(os.getloadavg()[0], 1),
            "services": _median(samples),
            **_latency(traffic.answers, since, until),
        }
        minutes.append(minute)
        print(_minute_line(minute), flush=True)
    await load


def _minute_line(minute: dict[str, Any]) -> str:
    services = " ".join(
        f"{name} {values['rss_mib']:.0f}MiB/{values['fds']:.0f}fd"
        for name, values in minute["services"].items()
    )
    return (
        f"  min {minute['minute']}: {minute['requests']} req, {minute['errors']} err, "
        f"load {minute['load_1m']} | {services}"
    )


def flatness(
    minutes: list[dict[str, Any]], warmup: int, window: int = FLAT_WINDOW_MINUTES
) -> dict[str, Any]:
    """Each service's RSS and descriptors over the last `window` full minutes against the
    first `window` after the warm-up; flat when within FLAT_WITHIN. Each window is read at its
    floor (its lowest minute, a minute being the median of its 5-s samples): memory under a
    garbage collector and descriptors under connection pools are a sawtooth, peaks where a
    collection is due or a moment's concurrency opened connections that close again, while
    a leak, a cache that fills or a pool that stays full raises the floor. A run too short for
    two windows compares shorter ones, down to one minute each."""
    full = [m for m in minutes if m["full"]][warmup:]
    window = min(window, len(full) // 2)
    if window < 1:
        return {"checked": False, "reason": "too short to compare after the warm-up"}
    first, last = full[:window], full[-window:]
    services: dict[str, Any] = {}
    for name in first[0]["services"]:
        if any(name not in minute["services"] for minute in (*first, *last)):
            continue
        start = {measure: _floor(first, name, measure) for measure in _FLAT_MEASURES}
        end = {measure: _floor(last, name, measure) for measure in _FLAT_MEASURES}
        growth = {
            measure: round((end[measure] - start[measure]) / start[measure], 3)
            for measure in _FLAT_MEASURES
            if start[measure]
        }
        services[name] = {
            **{measure: [start[measure], end[measure]] for measure in _FLAT_MEASURES},
            "growth": growth,
            "flat": all(abs(value) <= FLAT_WITHIN for value in growth.values()),
        }
    return {
        "checked": True,
        "from_minute": first[0]["minute"],
        "to_minute": last[-1]["minute"],
        "window_minutes": window,
        "services": services,
        "flat": all(entry["flat"] for entry in services.values()),
    }


def _floor(minutes: list[dict[str, Any]], name: str, measure: str) -> float:
    return float(min(minute["services"][name][measure] for minute in minutes))


def markdown(result: dict[str, Any]) -> str:
    settings = result["settings"]
    lines = [
        f"{settings['minutes']:g} minutes at {settings['rate']:g} req/s "
        f"(warm-up {settings['warmup_minutes']} min): {result['requests']} requests, "
        f"{result['errors']} errors.",
        "",
        "| minute | requests | errors | load | "
        + " | ".join(f"{name} RSS MiB / fds" for name in result["minutes"][0]["services"])
        + " | chat p50/p99 ms | chat-stream p50/p99 ms |",
        "|---|---|---|---|" + "---|" * len(result["minutes"][0]["services"]) + "---|---|",
    ]
    for minute in result["minutes"]:
        cells = " | ".join(
            f"{values['rss_mib']:.0f} / {values['fds']:.0f}"
            for values in minute["services"].values()
        )
        latency = minute["latency"]

        def pair(kind: str, latency: dict[str, Any] = latency) -> str:
            entry = latency.get(kind)
            return f"{entry['p50_ms']} / {entry['p99_ms']}" if entry else "-"

        lines.append(
            f"| {minute['minute']} | {minute['requests']} | {minute['errors']} "
            f"| {minute['load_1m']} | {cells} | {pair('chat')} | {pair('chat-stream')} |"
        )
    flat = result["flatness"]
    if flat["checked"]:
        growth = ", ".join(
            f"{name} RSS {entry['growth'].get('rss_mib', 0):+.1%} fds "
            f"{entry['growth'].get('fds', 0):+.1%}"
            for name, entry in flat["services"].items()
        )
        lines += [
            "",
            f"Minutes {flat['from_minute']}-{flat['from_minute'] + flat['window_minutes'] - 1} "
            f"to {flat['to_minute'] - flat['window_minutes'] + 1}-{flat['to_minute']} "
            f"(floors): {growth}; "
            f"flat within 10 %: {flat['flat']}.",
        ]
    else:
        lines += ["", f"Flatness not checked: {flat['reason']}."]
    return "\n".join(lines) + "\n"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM ends the run like Ctrl-C: the stack is stopped and the minutes so far reported.
    signal.signal(signal.SIGTERM, _interrupt)
    settings = Settings()
    workdir = Path(tempfile.mkdtemp(prefix="tollway-soak-"))
    stack = ChaosStack(workdir)
    print(
        f"soak: {settings.rate:g} req/s for {settings.minutes:g} min; logs in {workdir}", flush=True
    )
    minutes: list[dict[str, Any]] = []
    interrupted = False
    try:
        stack.start()
        asyncio.run(_run(stack, settings, minutes))
    except KeyboardInterrupt:
        interrupted = True
        print("soak: interrupted; stopping the stack", flush=True)
    finally:
        stack.stop()
    if not minutes:
        sys.exit(130 if interrupted else 1)
    result = {
        "settings": asdict(settings),
        "interrupted": interrupted,
        "machine": {"cpus": os.cpu_count()},
        "requests": sum(m["requests"] for m in minutes),
        "errors": sum(m["errors"] for m in minutes),
        "minutes": minutes,
        "flatness": flatness(minutes, settings.warmup_minutes),
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (RESULTS / f"soak-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS / f"soak-{stamp}.md").write_text(text)
    print(text)
    print(f"wrote bench/results/soak-{stamp}.json and .md")
    failed = interrupted or result["errors"] or not result["flatness"].get("flat", True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
