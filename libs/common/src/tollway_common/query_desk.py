"""Answer requests on one subject in a queue group, a task per request, so one slow answer (a
Redis or KV read) holds up no other; stopping waits a bounded time for the answers under way.

A desk names its subject and queue group and answers one message in `serve`; the subscription,
the tasks and the bounded stop live here once (the edge's `SessionAnswers`, the router's
`StoreAnswers`)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

STOP_GRACE_S = 5.0


class QueryDesk(ABC):
    def __init__(self, nc: Client, subject: str, queue: str) -> None:
        self._nc = nc
        self._subject = subject
        self._queue = queue
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @abstractmethod
    async def serve(self, msg: Msg) -> None:
        """Answer `msg` on its reply subject; called in a task of its own."""

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._subject, queue=self._queue, cb=self._on_msg)

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)

    async def _on_msg(self, msg: Msg) -> None:
        if not msg.reply:
            return
        task = asyncio.create_task(self.serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
