"""The router's NATS side: take requests from the queue group, one task each, and shut down
without dropping a stream.

nats-py runs a subscription's callbacks one at a time, so the callback only starts a task.
Queue groups pick members at random, ignoring load, so a full router leaves the group until it
has room again; when every router is full, NATS answers the edge with a fast 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from tollway_common import contract, nats_client, tracing
from tollway_router import spans
from tollway_router.handler import Handler

log = logging.getLogger(__name__)

_RESUME_FRACTION = 0.9


class Worker:
    def __init__(self, nc: Client, handler: Handler, max_inflight: int) -> None:
        self._nc = nc
        self._handler = handler
        self._max_inflight = max_inflight
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._infer_sub: Subscription | None = None
        self._cancel_sub: Subscription | None = None
        self._stopping = False
        self._background: set[asyncio.Task[None]] = set()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def start(self) -> None:
        self._cancel_sub = await self._nc.subscribe(contract.CANCEL_WILDCARD, cb=self._on_cancel)
        await self._join()

    async def _join(self) -> None:
        self._infer_sub = await self._nc.subscribe(
            contract.INFER_WILDCARD, queue=contract.ROUTER_QUEUE_GROUP, cb=self._on_request
        )

    async def _leave(self) -> None:
        # drain, not unsubscribe: unsubscribe drops requests already queued in the client.
        sub, self._infer_sub = self._infer_sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.drain()  # type: ignore[no-untyped-call]

    async def _on_request(self, msg: Msg) -> None:
        try:
            infer = contract.decode_infer_request(msg.data)
        except ValidationError:
            log.exception("dropping a malformed InferRequest")
            return
        work = spans.serving(infer, self._handler.serve(infer, msg.reply))
        # Run in the trace context the edge sent, so this request's spans are children of its.
        task = asyncio.create_task(work, context=tracing.message_context(msg.headers))
        self._inflight[infer.request_id] = task
        task.add_done_callback(lambda _: self._finished(infer.request_id))
        if len(self._inflight) >= self._max_inflight and self._infer_sub is not None:
            log.info("at capacity; leaving the queue group", extra={"inflight": self.inflight})
            # Draining waits for this very callback to return, so it must run as its own task.
            self._background.add(task := asyncio.create_task(self._leave()))
            task.add_done_callback(self._background.discard)

    def _finished(self, request_id: str) -> None:
        self._inflight.pop(request_id, None)
        resume_below = max(1, int(self._max_inflight * _RESUME_FRACTION))
        if self._infer_sub is None and not self._stopping and self.inflight < resume_below:
            self._background.add(task := asyncio.get_running_loop().create_task(self._rejoin()))
            task.add_done_callback(self._background.discard)

    async def _rejoin(self) -> None:
        if self._infer_sub is None and not self._stopping:
            await self._join()

    async def _on_cancel(self, msg: Msg) -> None:
        task = self._inflight.get(contract.request_id_from_cancel_subject(msg.subject))
        if task is not None:
            task.cancel()

    async def shutdown(
        self, grace_s: float, before_drain: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Stop taking requests, let in-flight ones finish (bounded), wait for their usage
        events' acks (bounded), run `before_drain` (what must still reach NATS: a token refresh
        writing its rotated token), then drain NATS."""
        self._stopping = True
        await self._leave()
        with contextlib.suppress(Exception):
            await self._nc.flush()
        pending = list(self._inflight.values())
        if pending:
            log.info("waiting for in-flight requests", extra={"inflight": len(pending)})
            _, still_running = await asyncio.wait(pending, timeout=grace_s)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running, timeout=5)
        if self._cancel_sub is not None:
            with contextlib.suppress(Exception):
                await self._cancel_sub.unsubscribe()
        # The usage events of the requests just finished may still wait for their acks.
        await self._handler.usage.close(grace_s)
        if before_drain is not None:
            await before_drain()
        await nats_client.drain(self._nc)
