"""Redis connection pools that close connections left idle.

redis-py's pools keep every connection they ever opened until the pool closes: a moment of
high concurrency leaves the edge holding that many sockets (and Redis that many clients) for
good. These pools stamp each connection's release time; `close_idle` (called by a reaper task
the edge runs, `reap_idle`) drops the free connections unused for `idle_timeout_s`, keeping
the `min_idle` most recently used ones. The request path only pays for the stamp.

Free connections are taken from the end of the list (last released, first reused), so under a
steady rate the few connections it needs stay warm and the rest age out; the cluster client's
per-node pools reuse the oldest first, so none ages out there, and they are not covered.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

from redis.asyncio import BlockingConnectionPool, ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import SentinelConnectionPool

log = logging.getLogger(__name__)

# Checks per idle timeout: a connection closes between one and 1.25 timeouts after its use.
_CHECKS_PER_TIMEOUT = 4
_MIN_CHECK_INTERVAL_S = 0.05


class _IdleClosing(ConnectionPool):
    """A pool that knows when each free connection was last released (a mixin for redis-py's
    pools; it must come first among the bases)."""

    def __init__(
        self,
        *args: Any,
        idle_timeout_s: float = 0.0,
        min_idle: int = 0,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.idle_timeout_s = idle_timeout_s
        self.min_idle = min_idle
        self._clock = clock
        self._released_at: weakref.WeakKeyDictionary[AbstractConnection, float] = (
            weakref.WeakKeyDictionary()
        )

    async def release(self, connection: AbstractConnection) -> None:
        self._released_at[connection] = self._clock()
        await super().release(connection)

    async def close_idle(self) -> list[AbstractConnection]:
        """Drop and disconnect the free connections idle for `idle_timeout_s` or longer, except
        the `min_idle` most recently released; return them. A connection in use is never
        touched: only the free list is read, and a dropped connection is no longer reachable
        from the pool when it is disconnected."""
        if self.idle_timeout_s <= 0:
            return []
        # The pool lock is what redis-py's maintenance handlers hold while they walk the free
        # list; the selection and the removal below do not await, so no caller interleaves.
        async with self._lock:
            now = self._clock()
            free = self._available_connections
            candidates = free[: max(0, len(free) - self.min_idle)]
            idle = [conn for conn in candidates if self._idle_for(conn, now) >= self.idle_timeout_s]
            if idle:
                dropped = set(idle)
                free[:] = [conn for conn in free if conn not in dropped]
        # Fewer free connections never makes a waiter of the blocking pool wait longer: one
        # waits only while no connection is free, and dropping leaves room to open one.
        results = await asyncio.gather(
            *(conn.disconnect() for conn in idle), return_exceptions=True
        )
        for conn, result in zip(idle, results, strict=True):
            if isinstance(result, BaseException):
                log.debug("closing an idle redis connection %r failed: %s", conn, result)
        return idle

    def _idle_for(self, connection: AbstractConnection, now: float) -> float:
        released = self._released_at.get(connection)
        if released is None:
            # Put in the free list by something other than `release`: its idle time starts now.
            self._released_at[connection] = now
            return 0.0
        return now - released


class IdleClosingBlockingPool(_IdleClosing, BlockingConnectionPool):
    """The standalone pool: bounded, a caller waits for a free connection."""


class IdleClosingSentinelPool(_IdleClosing, SentinelConnectionPool):
    """The sentinel mode's pool of connections to the current primary."""


def idle_closing_pool(client: object) -> _IdleClosing | None:
    """The client's pool when it closes idle connections (not in cluster mode)."""
    pool = getattr(client, "connection_pool", None)
    return pool if isinstance(pool, _IdleClosing) else None


async def reap_idle(client: object) -> None:
    """Close the client's idle connections, checking a few times per idle timeout; returns at
    once when the client's pool does not close idle connections. Runs until cancelled."""
    pool = idle_closing_pool(client)
    if pool is None or pool.idle_timeout_s <= 0:
        return
    interval = max(pool.idle_timeout_s / _CHECKS_PER_TIMEOUT, _MIN_CHECK_INTERVAL_S)
    while True:
        await asyncio.sleep(interval)
        try:
            closed = await pool.close_idle()
        except Exception:  # a failed round must not end the reaper; the next one tries again
            log.exception("closing idle redis connections failed")
            continue
        if closed:
            log.debug("closed %d idle redis connections", len(closed))
