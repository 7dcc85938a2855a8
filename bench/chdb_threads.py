"""Metering's embedded chDB alone: its threads and open descriptors under steady inserts.

Opens the warehouse the way metering does (`Warehouse.open` with metering's chDB settings, the
migrations applied) in a temporary folder, then every `--every` seconds writes a batch of
`--batch` usage events (the consumer's path: `insert_usage`, which reads the stored rows and
inserts) and runs a small analytics select. Every `--sample` seconds it prints this process's
threads (/proc/self/task), open descriptors (/proc/self/fd), how many of those are per-thread
procfs files (/proc/self/task/<tid>/...), chDB's global pool (system.metrics GlobalThread /
GlobalThreadActive), the peak count of each thread name, and the thread-pool, part and merge
ProfileEvents of the interval (how the pool's bursts were traced to asynchronous marks
loading: docs/soak.md). A JSON line per sample; the last line sums up.

    python -m bench.chdb_threads [--minutes 8] [--batch 2000] [--every 2] [--as-before]

`--as-before` undoes what bounds the threads (chDB's asynchronous marks loading, parallel
removal of outdated parts from 100 at once) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.metering_cost import usage_event
from tollway_common.contract import AnalyticsQuery
from tollway_metering.charges import UNPRICED
from tollway_metering.migrations import Retention
from tollway_metering.warehouse import CHDB_SERVER_SETTINGS, Warehouse

_POOL_METRICS = ("GlobalThread", "GlobalThreadActive", "GlobalThreadScheduled")


def _descriptors() -> tuple[int, int]:
    """All open descriptors, and those that are a thread's /proc/self/task/<tid>/... file."""
    total = per_thread = 0
    for name in os.listdir("/proc/self/fd"):
        total += 1
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if "/task/" in target:
            per_thread += 1
    return total, per_thread


class ThreadNames:
    """Peak count of each thread name (/proc/self/task/<tid>/comm) seen between two reads,
    polled every 50 ms: a pool's burst of short jobs shows up under the jobs' thread name."""

    def __init__(self) -> None:
        self._peak: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            now: Counter[str] = Counter()
            for tid in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{tid}/comm") as comm:
                        now[comm.read().strip()] += 1
                except OSError:
                    continue
            with self._lock:
                for name, count in now.items():
                    self._peak[name] = max(self._peak[name], count)

    def take(self) -> dict[str, int]:
        with self._lock:
            peak, self._peak = dict(self._peak), Counter()
        return {name: count for name, count in sorted(peak.items()) if count >= 2}

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _events(client: Any) -> dict[str, int]:
    rows = client.query(
        "SELECT event, value FROM system.events WHERE event ILIKE '%thread%' "
        "OR event ILIKE '%part%' OR event ILIKE '%merge%'"
    )
    return {str(event): int(value) for event, value in rows.result_rows}


def _changed(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        name: value - before.get(name, 0)
        for name, value in after.items()
        if value != before.get(name, 0)
    }


def _pool(client: Any) -> dict[str, int]:
    names = ", ".join(f"'{name}'" for name in _POOL_METRICS)
    rows = client.query(f"SELECT metric, value FROM system.metrics WHERE metric IN ({names})")
    return {str(metric): int(value) for metric, value in rows.result_rows}


def _as_before(client: Any) -> None:
    """chDB's defaults for what metering now sets (load_marks_asynchronously is read at start)."""
    tables = client.query(
        "SELECT name FROM system.tables WHERE database = 'tollway' AND engine LIKE '%MergeTree'"
    ).result_rows
    for (table,) in tables:
        client.command(
            f"ALTER TABLE tollway.{table} MODIFY SETTING concurrent_part_removal_threshold = 100"
        )


async def run(
    minutes: float, batch: int, every: float, sample: float, as_before: bool
) -> list[dict[str, Any]]:
    if as_before:
        CHDB_SERVER_SETTINGS["load_marks_asynchronously"] = 1
    with tempfile.TemporaryDirectory(prefix="chdb-threads-") as folder:
        warehouse = await Warehouse.open(f"chdb://{Path(folder) / 'ch'}", "tollway")
        await warehouse.migrate(Retention())
        client = warehouse._client  # a bench reads chDB's own metrics
        if as_before:
            _as_before(client)
        samples: list[dict[str, Any]] = []
        names = ThreadNames()
        events = _events(client)
        start = time.monotonic()
        next_sample = start
        index = 0
        while (elapsed := time.monotonic() - start) < minutes * 60:
            usage = [usage_event(index + offset) for offset in range(batch)]
            index += batch
            began = time.monotonic()
            await warehouse.insert_usage(usage, [UNPRICED] * batch)
            insert_ms = (time.monotonic() - began) * 1000
            await warehouse.query_usage(AnalyticsQuery(limit=10))
            if time.monotonic() >= next_sample:
                fds, per_thread = _descriptors()
                row = {
                    "s": round(elapsed),
                    "threads": len(os.listdir("/proc/self/task")),
                    "fds": fds,
                    "task_fds": per_thread,
                    "insert_ms": round(insert_ms, 1),
                    **_pool(client),
                    "names": names.take(),
                }
                now = _events(client)
                row["events"] = _changed(events, now)
                events = now
                samples.append(row)
                print(json.dumps(row), flush=True)
                next_sample += sample
            await asyncio.sleep(max(0.0, every - (time.monotonic() - began)))
        names.close()
        return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--every", type=float, default=2.0)
    parser.add_argument("--sample", type=float, default=10.0)
    parser.add_argument("--as-before", action="store_true")
    args = parser.parse_args()
    samples = asyncio.run(run(args.minutes, args.batch, args.every, args.sample, args.as_before))
    summary: dict[str, Any] = {
        key: [min(row[key] for row in samples), max(row[key] for row in samples)]
        for key in ("threads", "fds", "task_fds", "GlobalThread")
    }
    summary["insert_ms_median"] = statistics.median(row["insert_ms"] for row in samples)
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    main()
