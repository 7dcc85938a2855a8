"""Learn which answers found no edge to take them, without a round trip.

A live answer's `final` reply goes out with a reply subject on this router's own inbox. While
the edge that asked is alive its inbox subscription takes the message and nothing comes back;
when that edge has died, nats-server answers the `final` at once with a 503 "no responders"
status on the reply subject. The client then got the answer cut short or not at all, so its
usage event must not say 200: the event is marked `client_cut` before it is published, or,
when the 503 comes after it was, published again corrected (metering keeps the corrected one).
The normal case costs a few bytes on the `final` and a dictionary entry for a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tollway_common import contract
from tollway_common.contract import UsageEvent

log = logging.getLogger(__name__)

# How long a finished answer waits for a 503; one normally comes within a millisecond. Each
# waiting answer holds its event (~2.3 KB): at 1,300 answers/s, 5 s held ~15 MiB of router RSS.
WAIT_S = 1.0
# What the client got when its edge died before the end of the answer.
CUT_STATUS = 499
CUT_TYPE = "client_cut"
CUT_CODE = "edge_lost"


def cut(event: UsageEvent) -> UsageEvent:
    """The event of an answer whose edge was gone: the provider's charge stays as it was."""
    return event.model_copy(
        update={
            "status_code": CUT_STATUS,
            "error_type": CUT_TYPE,
            "error_code": CUT_CODE,
            "client_cut": True,
        }
    )


class Receipts:
    def __init__(
        self,
        nc: Client,
        publish: Callable[[UsageEvent], Coroutine[Any, Any, None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nc = nc
        self._publish = publish
        self._clock = clock
        self._prefix = ""
        self._sub: Subscription | None = None
        # Request id -> (when, its published event) and request id -> when its 503 came.
        self._finished: OrderedDict[str, tuple[float, UsageEvent]] = OrderedDict()
        self._refused: OrderedDict[str, float] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._on_receipt)

    async def stop(self, grace_s: float = WAIT_S) -> None:
        """Give corrections still being published `grace_s` to land, then drop them."""
        if self._sub is not None:
            # A drained connection has already taken the subscription away.
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def reply_to(self, request_id: str) -> str:
        return f"{self._prefix}.{request_id}"

    def settle(self, event: UsageEvent) -> UsageEvent:
        """The event to publish for an answer whose `final` went out: cut if its 503 already
        came; otherwise remembered a while, in case one comes later."""
        now = self._clock()
        self._expire(now)
        if self._refused.pop(event.request_id, None) is not None:
            return cut(event)
        self._finished[event.request_id] = (now, event)
        return event

    async def _on_receipt(self, msg: Msg) -> None:
        if (msg.headers or {}).get(contract.HEADER_NATS_STATUS) != contract.NATS_NO_RESPONDERS:
            return
        request_id = msg.subject[len(self._prefix) + 1 :]
        now = self._clock()
        self._expire(now)
        finished = self._finished.pop(request_id, None)
        if finished is None:
            self._refused[request_id] = now
            return
        log.warning("answer found no edge; usage corrected", extra={"request_id": request_id})
        task = asyncio.create_task(self._publish(cut(finished[1])))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _expire(self, now: float) -> None:
        finished, refused = self._finished, self._refused
        while finished and now - next(iter(finished.values()))[0] >= WAIT_S:
            finished.popitem(last=False)
        while refused and now - next(iter(refused.values())) >= WAIT_S:
            refused.popitem(last=False)
