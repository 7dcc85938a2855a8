"""The edge's own Prometheus metrics: refusals by limits and budgets, admissions while Redis is
away, unpriced models under a budget, and whether Redis answers. Request counts and latencies
come from the shared HTTP middleware (tollway_common.http_metrics); docs/metrics.md lists all.
"""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError

from tollway_edge.redis_client import RedisClient

LIMIT_REFUSALS = Counter(
    "tollway_limit_refusals",
    "Requests refused by a rate limit or a budget, by what refused them and at which level.",
    ["dimension", "level"],
)
LIMITS_UNAVAILABLE = Counter(
    "tollway_limits_unavailable",
    "Limited requests met while Redis could not be reached, per kind of limit they were under "
    "and that kind's failure mode (open: admitted without it, closed: refused with 503).",
    ["kind", "mode"],
)
UNPRICED_MODEL = Counter(
    "tollway_unpriced_model_admissions",
    "Requests under a budget for a model that has no price (the budget cannot count them).",
    ["model"],
)
REDIS_CONNECTED = Gauge(
    "tollway_redis_connected",
    "1 while Redis answers this edge's pings (with several workers: all of them).",
    multiprocess_mode="livemin",
)

_PING_INTERVAL_S = 5.0


def record_refusal(dimension: str, owner: str) -> None:
    """`owner` is the refusing level as the refusal names it (`key 'ci'`, `team 'ml'`)."""
    LIMIT_REFUSALS.labels(dimension, owner.split(" ", 1)[0]).inc()


async def watch_redis(
    redis: RedisClient, timeout_s: float, interval_s: float = _PING_INTERVAL_S
) -> None:
    """Keep REDIS_CONNECTED current: requests of callers without limits never touch Redis, so
    their traffic says nothing about it."""
    while True:
        try:
            async with asyncio.timeout(timeout_s):
                await redis.ping()
            REDIS_CONNECTED.set(1)
        except (RedisError, OSError, TimeoutError):
            REDIS_CONNECTED.set(0)
        await asyncio.sleep(interval_s)


async def stop_watching(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
