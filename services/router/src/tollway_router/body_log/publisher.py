"""The body log's publishing side: requests hand over their capture after replying; one
background task redacts and publishes each to the bodies stream on a NATS connection of its own.

Nothing here can hold up a request: handing over is a `put_nowait` on a bounded queue (a full
queue drops the body, logged), and a connection of its own keeps large body messages out of
the socket that carries reply chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.client import Client
from nats.js import JetStreamContext

from tollway_common import contract, nats_client
from tollway_common.bus_permissions import Service
from tollway_common.contract import InferRequest
from tollway_common.ids import body_msg_id
from tollway_common.settings import NatsSettings
from tollway_router.body_log.capture import BodyCapture, body_event, wanted
from tollway_router.body_log.redaction import Redactor
from tollway_router.settings import BodyLogMode, BodyLogSettings

log = logging.getLogger(__name__)

_PUBLISH_ATTEMPTS = 3
_STOP_GRACE_S = 10.0


class BodyLog:
    def __init__(self, settings: BodyLogSettings, nc: Client | None = None) -> None:
        self._settings = settings
        self._nc = nc
        self._js: JetStreamContext | None = nc.jetstream() if nc is not None else None
        self._redactor = Redactor.with_custom(settings.redact_patterns)
        self._queue: asyncio.Queue[tuple[InferRequest, BodyCapture, int]] = asyncio.Queue(
            settings.queue_size
        )
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    @classmethod
    async def open(cls, nats: NatsSettings, settings: BodyLogSettings, name: str) -> BodyLog:
        if settings.mode is BodyLogMode.OFF:
            return cls(settings)
        if settings.mode is BodyLogMode.ALL:
            log.warning(
                "body_log.mode is 'all': the redacted bodies of every caller whose policy does "
                "not say log_bodies: false are stored (debug mode sets this; turn it off on a "
                "shared gateway)"
            )
        nc = await nats_client.connect(nats, f"{name}-bodies", service=Service.ROUTER)
        await nats_client.ensure_bodies_stream(nc.jetstream(), nats.replicas)
        body_log = cls(settings, nc)
        body_log._task = asyncio.create_task(body_log._run())
        return body_log

    def capture_for(self, infer: InferRequest) -> BodyCapture | None:
        """A capture for this request's reply, or None when its bodies are not logged."""
        if self._js is None or not wanted(self._settings.mode, infer.log_bodies):
            return None
        return BodyCapture(self._settings.capture_limit_bytes)

    def submit(self, infer: InferRequest, capture: BodyCapture, status_code: int) -> None:
        try:
            self._queue.put_nowait((infer, capture, status_code))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning(
                "body log queue full; body dropped",
                extra={"request_id": infer.request_id, "dropped": self.dropped},
            )

    async def close(self) -> None:
        """Publish what is queued (bounded), then drain the connection."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), _STOP_GRACE_S)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._nc is not None:
            await nats_client.drain(self._nc)

    async def _run(self) -> None:
        while True:
            infer, capture, status_code = await self._queue.get()
            try:
                await self._publish(infer, capture, status_code)
            except Exception:
                log.exception("body not logged", extra={"request_id": infer.request_id})
            finally:
                self._queue.task_done()

    async def _publish(self, infer: InferRequest, capture: BodyCapture, status_code: int) -> None:
        assert self._js is not None
        event = body_event(
            infer, capture, status_code, self._redactor, self._settings.max_body_bytes
        )
        payload = contract.encode(event)
        headers = {contract.HEADER_MSG_ID: body_msg_id(event.request_id)}
        for attempt in range(_PUBLISH_ATTEMPTS):
            try:
                await self._js.publish(contract.BODIES_SUBJECT, payload, headers=headers, timeout=5)
                return
            except Exception as exc:
                log.warning(
                    "body publish failed (attempt %d): %s",
                    attempt + 1,
                    exc,
                    extra={"request_id": event.request_id},
                )
                await asyncio.sleep(0.2 * 2**attempt)
        log.error("body not logged after retries", extra={"request_id": event.request_id})
