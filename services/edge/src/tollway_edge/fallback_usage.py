"""When the edge loses the router of a request (the router died, NATS went away), the client
gets an error the router may never learn of: the edge publishes what the client got, with an
estimate of the usage. Metering merges it with the router's event when that arrives too (the
router's tokens and cost, this event's status), and keeps it alone, priced at 0, when none
does (docs/adr/0021-what-a-usage-row-says.md).

The event goes out in the background, retried until JetStream stores it: the client gets its
error at once, and an event published while NATS is away lands once it is back.
"""

from __future__ import annotations

import asyncio
import logging
import time

from nats.js import JetStreamContext

from tollway_common import contract
from tollway_common.contract import InferRequest, UsageEvent, UsageSource
from tollway_common.errors import TollwayError
from tollway_common.ids import usage_msg_id
from tollway_edge.dispatch import Unanswered

log = logging.getLogger(__name__)

# Long enough to ride out a NATS restart or a JetStream leader election (the router's usage
# publish keeps trying as long); the message id makes every repeat harmless.
PUBLISH_WINDOW_S = 120.0
_BACKOFF_FIRST_S = 0.2
_BACKOFF_MAX_S = 2.0


def estimate(infer: InferRequest, error: TollwayError, chunks_relayed: int) -> UsageEvent:
    """The edge's event for a request whose router it lost with `error`."""
    # A request no router ever answered (not even a heartbeat) reached no upstream as far as
    # this edge knows: nothing to estimate. Otherwise one streamed chunk is about one token.
    prompt = 0 if isinstance(error, Unanswered) else infer.facts.prompt_tokens
    return UsageEvent(
        request_id=infer.request_id,
        received_at_ms=infer.received_at_ms,
        endpoint=infer.endpoint,
        principal=infer.principal,
        model_alias=infer.route.alias,
        status_code=error.status,
        error_type=error.type,
        error_code=error.code_override or error.code,
        prompt_tokens=prompt,
        completion_tokens=chunks_relayed,
        total_tokens=prompt + chunks_relayed,
        usage_estimated=bool(prompt or chunks_relayed),
        latency_ms=round(time.time() * 1000 - infer.received_at_ms, 3),
        stream=infer.stream,
        source=UsageSource.EDGE,
        client=infer.client,
    )


class Estimates:
    """Publishes the edge's events in the background; `drain` waits for them at shutdown."""

    def __init__(self, js: JetStreamContext, window_s: float = PUBLISH_WINDOW_S) -> None:
        self._js = js
        self._window_s = window_s
        self._pending: set[asyncio.Task[None]] = set()

    def submit(self, infer: InferRequest, error: TollwayError, chunks_relayed: int) -> None:
        task = asyncio.create_task(self._publish(estimate(infer, error, chunks_relayed)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self, grace_s: float = 5.0) -> None:
        """Give events still being published `grace_s`, then drop them (logged)."""
        if not self._pending:
            return
        _, late = await asyncio.wait(self._pending, timeout=grace_s)
        for task in late:
            task.cancel()
        if late:
            log.error("%d estimated usage events not published before shutdown", len(late))
        await asyncio.gather(*late, return_exceptions=True)

    async def _publish(self, event: UsageEvent) -> None:
        payload = contract.encode(event)
        headers = {contract.HEADER_MSG_ID: usage_msg_id(event.request_id, event.source.value)}
        deadline = time.monotonic() + self._window_s
        attempt = 0
        while True:
            try:
                await self._js.publish(contract.USAGE_SUBJECT, payload, headers=headers, timeout=5)
                return
            except Exception as exc:
                attempt += 1
                pause = min(_BACKOFF_FIRST_S * 2 ** min(attempt - 1, 8), _BACKOFF_MAX_S)
                if time.monotonic() + pause > deadline:
                    log.error(
                        "estimated usage event not published: %s",
                        exc,
                        extra={"request_id": event.request_id},
                    )
                    return
                await asyncio.sleep(pause)
