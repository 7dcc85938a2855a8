"""Publish usage events to JetStream without a request waiting for each acknowledgement.

The I/O half of `usage.py` (which says what an event holds) for live requests. Every event
goes out with a reply subject on one inbox subscription; acknowledgements are matched there as
they come, so a request ends as soon as its event is on the wire, not a round trip later
(`js.publish` made every request wait for its ack, with a future, a timer task and a JSON
parse each: about 5 % of the router's CPU per request). An event stays pending until JetStream
acknowledges it; one not acknowledged within `ack_timeout_s`, or refused (no stream during a
leader election, an API error), is sent again, with the same back-off and the same two-minute
window `publish_usage` keeps. The message id makes every repeat harmless, so exactly-once
holds as it did. At most `max_pending` events wait for acks; beyond that `submit` waits for
room, which holds the router's requests back rather than its memory growing. Shutdown
flushes: `close` waits for the pending events before the connection drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.nuid import NUID

from tollway_common import contract
from tollway_common.contract import UsageEvent
from tollway_common.ids import usage_msg_id
from tollway_router.usage import PUBLISH_WINDOW_S, retry_pause_s

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0
MAX_PENDING = 10_000
# How often events waiting too long for an ack, or for their retry, are looked at.
_SWEEP_S = 0.1
_LOG_EVERY = 10


@dataclass(slots=True)
class _Pending:
    request_id: str
    payload: bytes
    headers: dict[str, str]
    give_up_at: float
    # When it is sent again if no ack has come by then.
    due: float
    attempts: int = 1
    # Waiting out a back-off after a refusal, rather than for an ack.
    refused: bool = False


class UsagePublisher:
    def __init__(
        self,
        nc: Client,
        *,
        max_pending: int = MAX_PENDING,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        window_s: float = PUBLISH_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nc = nc
        self._max_pending = max_pending
        self._ack_timeout_s = ack_timeout_s
        self._window_s = window_s
        self._clock = clock
        self._nuid = NUID()
        self._prefix = ""
        self._pending: dict[str, _Pending] = {}
        self._room = asyncio.Event()
        self._room.set()
        self._empty = asyncio.Event()
        self._empty.set()
        self._sub: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        async with self._starting:
            if self._sub is not None:
                return
            # The subscription goes out before the first publish on the same connection, so
            # the server knows it before any acknowledgement comes back.
            self._prefix = self._nc.new_inbox()
            self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._on_ack)

    @property
    def taking(self) -> bool:
        """Whether `submit` takes an event before its first await (started, with room): a
        caller cancelled after that cannot lose the event, since the sweep sends again what
        was taken and not acknowledged. Otherwise `submit` needs shielding."""
        return self._sub is not None and len(self._pending) < self._max_pending

    async def submit(self, event: UsageEvent) -> None:
        """Put `event` on the wire; it is retried until acknowledged or its window ends."""
        if self._sub is None:
            await self.start()
        while len(self._pending) >= self._max_pending:
            self._room.clear()
            await self._room.wait()
        token = self._nuid.next().decode()
        now = self._clock()
        headers = {contract.HEADER_MSG_ID: usage_msg_id(event.request_id, event.source.value)}
        pending = _Pending(
            event.request_id,
            contract.encode(event),
            headers,
            give_up_at=now + self._window_s,
            due=now + self._ack_timeout_s,
        )
        self._pending[token] = pending
        self._empty.clear()
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep(), name="usage-acks")
        await self._send(token, pending)

    async def close(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the pending events' acks, then stop."""
        if self._pending:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._empty.wait()
        if self._pending:
            log.error("%d usage events not acknowledged at shutdown", len(self._pending))
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def _send(self, token: str, pending: _Pending) -> None:
        try:
            await self._nc.publish(
                contract.USAGE_SUBJECT,
                pending.payload,
                reply=f"{self._prefix}.{token}",
                headers=pending.headers,
            )
        except Exception as exc:
            # Disconnected and the reconnect buffer full, or closing: the sweep sends it again.
            self._failed(pending, str(exc))

    async def _on_ack(self, msg: Msg) -> None:
        token = msg.subject[len(self._prefix) + 1 :]
        pending = self._pending.get(token)
        if pending is None:
            return  # the ack of a repeat already acknowledged
        problem = _problem(msg)
        if problem:
            self._failed(pending, problem)
            return
        self._done(token)

    def _failed(self, pending: _Pending, why: str) -> None:
        """Send again after a back-off (the sweep does)."""
        if pending.attempts % _LOG_EVERY == 1:
            log.warning(
                "usage publish failed (attempt %d): %s",
                pending.attempts,
                why,
                extra={"request_id": pending.request_id},
            )
        pending.due = self._clock() + retry_pause_s(pending.attempts)
        pending.refused = True

    def _done(self, token: str) -> None:
        del self._pending[token]
        if len(self._pending) < self._max_pending:
            self._room.set()
        if not self._pending:
            self._empty.set()

    async def _sweep(self) -> None:
        """Runs while events are pending, so an idle router does not wake for it."""
        while self._pending:
            await asyncio.sleep(_SWEEP_S)
            await self._resend_due()

    async def _resend_due(self) -> None:
        now = self._clock()
        for token, pending in list(self._pending.items()):
            if pending.due > now or token not in self._pending:
                continue
            if now >= pending.give_up_at:
                log.error(
                    "usage event not stored after %d attempts",
                    pending.attempts,
                    extra={"request_id": pending.request_id},
                )
                self._done(token)
                continue
            if not pending.refused and pending.attempts % _LOG_EVERY == 1:
                log.warning(
                    "usage publish not acknowledged (attempt %d); sending it again",
                    pending.attempts,
                    extra={"request_id": pending.request_id},
                )
            pending.attempts += 1
            pending.due = now + self._ack_timeout_s
            pending.refused = False
            await self._send(token, pending)


def _problem(msg: Msg) -> str:
    """Why an acknowledgement is a refusal, or "" when JetStream stored the event."""
    if msg.headers and msg.headers.get(contract.HEADER_NATS_STATUS):
        # 503: no stream answers the subject (one is being elected, or none exists yet).
        return f"no stream answered (status {msg.headers[contract.HEADER_NATS_STATUS]})"
    try:
        answer = orjson.loads(msg.data)
    except orjson.JSONDecodeError:
        return "an unreadable acknowledgement"
    if isinstance(answer, dict) and "error" in answer:
        return f"JetStream refused it: {answer['error']}"
    return ""
