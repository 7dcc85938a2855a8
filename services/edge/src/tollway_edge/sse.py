"""Frame OpenAI chunks as server-sent events; errors after the first byte become an event."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tollway_common.openai_errors import OpenAIErrorBody, render_error

DONE = b"data: [DONE]\n\n"
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def event(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def error_event(body: OpenAIErrorBody) -> bytes:
    return event(render_error(body))


class SseResponse(Response):
    """Stream `data:` events straight to ASGI `send`.

    Lighter than Starlette's StreamingResponse (which starts a task group of two tasks per
    response): the request's one disconnect watcher, already running, is what notices a client
    leaving; `on_close` stops it when the stream is over.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[bytes],
        on_close: Callable[[], object],
        headers: dict[str, str] | None = None,
    ) -> None:
        self.events = events
        self.on_close = on_close
        self.status_code = 200
        self.background = None
        self.init_headers({**HEADERS, **headers} if headers else HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            ended = False
            async for event in self.events:
                # `[DONE]` is a stream's last event: it goes out with the body's end, one write.
                ended = event == DONE
                await send({"type": "http.response.body", "body": event, "more_body": not ended})
            if not ended:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.on_close()
