"""Publish one request's replies on the edge's inbox: numbered chunks, heartbeats, the end."""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client

from tollway_common import contract
from tollway_common.contract import ErrorReply, FinalReply, ReplyKind
from tollway_common.errors import TollwayError
from tollway_router.bodies import BodyCapture


class Replier:
    def __init__(
        self, nc: Client, subject: str, router_id: str, capture: BodyCapture | None = None
    ) -> None:
        self._nc = nc
        self._subject = subject
        self._router_id = router_id
        self._seq = 0
        self._heartbeat: asyncio.Task[None] | None = None
        self._capture = capture

    @property
    def started(self) -> bool:
        """Has anything but heartbeats gone to the edge? After that, no retry or fallback."""
        return self._seq > 0

    async def chunk(self, data: bytes) -> None:
        await self._publish(ReplyKind.CHUNK, data)
        if self._capture is not None:
            self._capture.add(data)

    async def final(self, reply: FinalReply) -> None:
        await self._publish(ReplyKind.FINAL, contract.encode(reply))

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

    async def _publish(self, kind: ReplyKind, data: bytes) -> None:
        headers = contract.reply_headers(kind, self._seq)
        if self._seq == 0:
            headers[contract.HEADER_ROUTER] = self._router_id
        self._seq += 1
        await self._nc.publish(self._subject, data, headers=headers)

    def start_heartbeats(self, interval_s: float) -> None:
        self._heartbeat = asyncio.create_task(self._beat(interval_s))

    async def stop_heartbeats(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat

    async def _beat(self, interval_s: float) -> None:
        headers = {contract.HEADER_KIND: ReplyKind.HEARTBEAT.value}
        while True:
            await asyncio.sleep(interval_s)
            with contextlib.suppress(Exception):
                await self._nc.publish(self._subject, b"", headers=headers)
