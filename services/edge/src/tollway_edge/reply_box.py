"""One request's replies as they arrive, and the one reader waiting for them (fed by
`dispatch.ReplyMux`).

A deque and a future instead of `asyncio.Queue`, and one timer per request instead of one
`asyncio.timeout` per wait: entering and leaving a timeout scope cost about 7 µs on these
guests, paid for every stream chunk that found the reader waiting (docs/bench.md). The
timer is armed once; a wait that ends later only moves the time it checks against, and the
timer re-arms itself for that time when it fires early.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Expired:
    """What `ReplyBox.next` returns when nothing came within the wait's timeout."""


EXPIRED = Expired()


class ReplyBox(Generic[T]):
    __slots__ = ("_items", "_loop", "_timer", "_until", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[T | Expired] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._until = 0.0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        self._items.append(item)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self, timeout_s: float) -> T | Expired:
        """The next item, at once if one is waiting; EXPIRED if none comes within `timeout_s`."""
        if self._items:
            return self._items.popleft()
        until = self._loop.time() + timeout_s
        self._until = until
        timer = self._timer
        if timer is None or timer.when() > until:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(until, self._expire)
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        return self._items.popleft()

    def _expire(self) -> None:
        self._timer = None
        if self._waiter is None or self._items:
            # No one waits (the next wait arms the timer again), or something came.
            return
        # uvloop's timers count whole milliseconds and may fire up to one early.
        if self._loop.time() < self._until:
            self._timer = self._loop.call_at(self._until, self._expire)
            return
        self._items.append(EXPIRED)
        self._wake()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
