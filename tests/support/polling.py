"""Wait for an effect of background work (a settle in Redis, a row in ClickHouse, a KV watch)
by polling it against a deadline, never by sleeping a guessed time.

A check is an async callable that raises AssertionError while the effect is not there yet; the
failure after the deadline carries what the last check saw.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats

T = TypeVar("T")

_INTERVAL_S = 0.05


async def eventually(
    check: Callable[[], Awaitable[T]],
    describe: str,
    within_s: float = 10.0,
    interval: float = _INTERVAL_S,
) -> T:
    """The value of the first call of `check` that does not raise AssertionError.

    Raises:
        AssertionError: `describe` and the last check's failure, once `within_s` has passed.
    """
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await check()
        except AssertionError as exc:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{describe}: not within {within_s:g} s; last seen: {exc}"
                ) from exc
        await asyncio.sleep(interval)


async def kv_watchers_caught_up(nats_url: str, bucket: str, watchers: int) -> None:
    """Assert that the KV `bucket` has at least `watchers` watchers (services keep one each) and
    that every one has been delivered every write so far: what the services serve from memory
    follows the bucket."""
    nc = await nats.connect(nats_url)
    try:
        infos = await nc.jetstream().consumers_info(f"KV_{bucket}")
    finally:
        await nc.close()
    # A watcher whose client has gone lingers a while unbound; it serves nobody.
    pending = [info.num_pending for info in infos if info.push_bound]
    assert len(pending) >= watchers, f"{len(pending)} of {watchers} watchers of {bucket}"
    assert not any(pending), f"writes to {bucket} not yet delivered, per watcher: {pending}"
