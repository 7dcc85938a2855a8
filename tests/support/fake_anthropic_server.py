"""A fake Anthropic Messages API on loopback that replays recorded captures: the real event
sequence for streams, a recorded body otherwise, and recorded error bodies on cue. Every
request it receives is checked against Anthropic's published schema."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import fixtures
from tests.support.anthropic_schema import validate_anthropic_request
from tests.support.threaded_server import ThreadedServer


class FakeAnthropicServer:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.schema_errors: list[str] = []
        # (status, recorded error case) to answer with, instead of a normal reply.
        self.fail_with: tuple[int, str] | None = None
        self.stream_case = "text_stream"
        app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])
        self._server = ThreadedServer(app, "fake Anthropic server")
        self.port = self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeAnthropicServer:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.stop()
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
