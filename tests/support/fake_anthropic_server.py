"""A fake Anthropic Messages API on loopback that replays recorded captures: the real event
sequence for streams, a recorded body otherwise, and recorded error bodies on cue. Every
request it receives is checked against Anthropic's published schema."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import fixtures
from tests.support.anthropic_schema import validate_anthropic_request
from tollway_common.testing.servers import free_port


class FakeAnthropicServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.schema_errors: list[str] = []
        # (status, recorded error case) to answer with, instead of a normal reply.
        self.fail_with: tuple[int, str] | None = None
        self.stream_case = "text_stream"
        app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeAnthropicServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake Anthropic server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        if exc is None and self.schema_errors:
            raise AssertionError(
                "invalid requests sent to Anthropic:\n" + "\n".join(self.schema_errors)
            )

    async def _messages(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append((dict(request.headers), body))
        try:
            validate_anthropic_request(body)
        except AssertionError as exc:
            self.schema_errors.append(str(exc))
            return Response(
                b'{"type":"error","error":{"type":"invalid_request_error","message":"schema"}}',
                status_code=400,
            )
        if self.fail_with is not None:
            status, case = self.fail_with
            return Response(
                fixtures.load_bytes("anthropic", case, "response.json"),
                status_code=status,
                media_type="application/json",
                headers={"retry-after": "3"} if status == 429 else {},
            )
        if body.get("stream"):
            return Response(
                fixtures.load_bytes("anthropic", self.stream_case, "stream.sse"),
                media_type="text/event-stream",
            )
        return Response(
            fixtures.load_bytes("anthropic", "chat", "response.json"),
            media_type="application/json",
        )
