"""Publish one request's replies on the edge's inbox: numbered chunks, heartbeats, the end.

Heartbeats come from one ticker per router for every open request, not a task per request:
a task started and cancelled per request cost the hot path more than the beats themselves.
"""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client

from tollway_common import contract
from tollway_common.contract import ErrorReply, FinalReply, ReplyKind
from tollway_common.errors import TollwayError
from tollway_router.body_log.capture import BodyCapture


class Replier:
    def __init__(
        self,
        nc: Client,
        subject: str,
        router_id: str,
        capture: BodyCapture | None = None,
        receipt: str = "",
    ) -> None:
        self._nc = nc
        self._subject = subject
        self._router_id = router_id
        self._seq = 0
        self._capture = capture
        # Where nats-server says so if no edge takes the `final` (receipts.py).
        self.receipt = receipt

    @property
    def started(self) -> bool:
        """Has anything but heartbeats gone to the edge? After that, no retry or fallback."""
        return self._seq > 0

    async def chunk(self, data: bytes) -> None:
        await self._publish(ReplyKind.CHUNK, data)
        if self._capture is not None:
            self._capture.add(data)

    async def chunks(self, pieces: list[bytes]) -> None:
        """Stream chunks that were ready together: one message for all of them."""
        if len(pieces) == 1:
            await self.chunk(pieces[0])
            return
        body, sizes = contract.chunks_body(pieces)
        await self._publish(ReplyKind.CHUNKS, body, sizes)
        if self._capture is not None:
            for piece in pieces:
                self._capture.add(piece)

    async def head(self, content_type: str) -> None:
        """Open an answer relayed as bytes: the chunks that follow are its `content_type`."""
        await self._publish(ReplyKind.HEAD, content_type.encode())

    async def raw(self, data: bytes) -> None:
        """A piece of a relayed answer: bytes, not JSON, so no body log captures it."""
        await self._publish(ReplyKind.CHUNK, data)

    async def final(self, reply: FinalReply) -> None:
        await self._publish(ReplyKind.FINAL, contract.encode(reply), reply=self.receipt)

    async def error(self, exc: TollwayError) -> None:
        reply = ErrorReply(
            status=exc.status,
            error=exc.body(),
            retry_after=exc.retry_after,
            should_retry=exc.should_retry_header,
        )
        await self._publish(ReplyKind.ERROR, contract.encode(reply))
        if self._capture is not None:
            self._capture.error = contract.encode(reply.error)

    async def _publish(
        self, kind: ReplyKind, data: bytes, sizes: str = "", reply: str = ""
    ) -> None:
        headers = contract.reply_headers(kind, self._seq)
        if sizes:
            headers[contract.HEADER_SIZES] = sizes
        if self._seq == 0:
            headers[contract.HEADER_ROUTER] = self._router_id
        self._seq += 1
        await self._nc.publish(self._subject, data, reply=reply, headers=headers)

    async def heartbeat(self) -> None:
        with contextlib.suppress(Exception):
            await self._nc.publish(self._subject, b"", headers=_HEARTBEAT_HEADERS)


class Collector(Replier):
    """Stands in for an edge's inbox where no client waits (a batch line): keeps the answer's
    body and its end instead of publishing them. It counts what it is given as `Replier`
    does, so "nothing sent yet" means the same to retries and fallbacks."""

    def __init__(self, nc: Client, router_id: str, capture: BodyCapture | None = None) -> None:
        super().__init__(nc, "", router_id, capture)
        self.body = b""
        self.final_reply: FinalReply | None = None
        self.error_reply: ErrorReply | None = None

    async def _publish(
        self, kind: ReplyKind, data: bytes, sizes: str = "", reply: str = ""
    ) -> None:
        self._seq += 1
        if kind is ReplyKind.CHUNK:
            self.body = data
        elif kind is ReplyKind.CHUNKS:
            self.body = contract.split_chunks(data, sizes)[-1]
        elif kind is ReplyKind.FINAL:
            self.final_reply = contract.decode_final_reply(data)
        elif kind is ReplyKind.ERROR:
            self.error_reply = contract.decode_error_reply(data)

    async def heartbeat(self) -> None:
        return None


_HEARTBEAT_HEADERS = {contract.HEADER_KIND: ReplyKind.HEARTBEAT.value}


class Heartbeats:
    """Every `interval_s`, a heartbeat on each open request's inbox, so its edge knows the
    router is alive while the upstream thinks. A request opened just after a tick waits at
    most one interval for its first beat, as a per-request timer would make it."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._open: set[Replier] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick(), name="heartbeats")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def opened(self, replier: Replier) -> None:
        self._open.add(replier)

    def closed(self, replier: Replier) -> None:
        self._open.discard(replier)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            for replier in list(self._open):
                await replier.heartbeat()
