"""Notice a client that leaves while its request waits on the router (used by `inference.py`).

Until the answer starts, nothing reads from the client, so a task waits on `receive()` for
`http.disconnect` and then abandons the request (the router is told to cancel). Most plain
answers arrive within a few milliseconds, and a task per request (create, first step,
cancel: ~10 µs and ~30 Python calls here) was paid for nothing; the task starts only when the
answer takes longer than `START_AFTER_S`, or at once when a stream begins (it watches the
whole stream). A client that leaves sooner is noticed that much later, which only delays the
upstream's cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

START_AFTER_S = 0.05


class DisconnectWatch:
    __slots__ = ("_on_gone", "_receive", "_task", "_timer")

    def __init__(self, request: Request, on_gone: Callable[[], object]) -> None:
        self._receive = request.receive
        self._on_gone = on_gone
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            START_AFTER_S, self.start
        )

    def start(self) -> None:
        """Watch from now on (a stream's start; the timer's end)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None:
            self._task = asyncio.create_task(self._watch())

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        while True:
            message: dict[str, Any] = dict(await self._receive())
            if message["type"] == "http.disconnect":
                self._on_gone()
                return
