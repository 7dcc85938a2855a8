"""Prometheus metrics every service shares, and the `/metrics` exposition: of this process, or of
every edge worker process through prometheus_client's multiprocess mode.

Metrics live in prometheus_client's process-wide registry, the one piece of module state the
services keep (docs/adr/0010-observability.md); each service defines its own in its
`metrics.py`, named `tollway_*` and documented in docs/metrics.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from tollway_common.presence import package_version

# Seconds, from a cache hit on a local model to a long reasoning answer.
LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)

NATS_CONNECTED = Gauge(
    "tollway_nats_connected",
    "1 while this process is connected to NATS (with several edge workers: all of them).",
    multiprocess_mode="livemin",
)
BUILD_INFO = Gauge(
    "tollway_build_info",
    "Always 1; the labels name the service and its version.",
    ["service", "version"],
    multiprocess_mode="max",
)


def announce_build(service: str) -> None:
    BUILD_INFO.labels(service, package_version(f"tollway-{service}")).set(1)


def exposition(multiprocess_dir: Path | None = None) -> tuple[bytes, str]:
    """The text exposition and its content type. With `multiprocess_dir` (the folder in
    PROMETHEUS_MULTIPROC_DIR), the metrics of every worker process writing there, summed."""
    if multiprocess_dir is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    forget_dead_processes(multiprocess_dir)
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
        registry, path=str(multiprocess_dir)
    )
    return generate_latest(registry), CONTENT_TYPE_LATEST


_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db\Z")


def forget_dead_processes(multiprocess_dir: Path) -> None:
    """Drop the live gauges (in-flight requests, connection state) of workers that are gone, so
    a restarted worker's old values stop counting; counters and histograms keep their totals."""
    for path in multiprocess_dir.glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.match(path.name)
        if match and not _alive(int(match.group(1))):
            pid = int(match.group(1))
            prometheus_multiprocess.mark_process_dead(pid, str(multiprocess_dir))  # type: ignore[no-untyped-call]


def reset_multiprocess_dir(multiprocess_dir: Path) -> None:
    """Empty the folder before the workers start: values left by an earlier run would count."""
    multiprocess_dir.mkdir(parents=True, exist_ok=True)
    for path in multiprocess_dir.glob("*.db"):
        path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
