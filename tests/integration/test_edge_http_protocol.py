"""The edge's HTTP protocol (head and body in one write, `http_protocol.py`), as
`python -m tollway_edge` configures it, over a real socket: plain and streamed responses read
exactly as uvicorn's own protocol writes them."""

from __future__ import annotations

import asyncio

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from tollway_cli.servers import free_port
from tollway_edge.__main__ import http_options
from tollway_edge.http_protocol import EdgeHttpProtocol
from tollway_edge.settings import EdgeSettings


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for index in range(3):
            await send(
                {"type": "http.response.body", "body": b"data: %d\n\n" % index, "more_body": True}
            )
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


async def test_responses_over_a_real_socket_read_as_uvicorn_writes_them() -> None:
    port = free_port()
    options = http_options(EdgeSettings())
    assert options["http"].func is EdgeHttpProtocol
    config = uvicorn.Config(_app, host="127.0.0.1", port=port, log_config=None, **options)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn's Server offers no event to wait on
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(2):  # the second on the kept-alive connection
                answer = await client.post("/v1/chat/completions")
                assert (answer.status_code, answer.json()) == (201, {"ok": True})
            async with client.stream("POST", "/stream") as stream:
                assert stream.headers["transfer-encoding"] == "chunked"
                events = [line async for line in stream.aiter_lines() if line]
            assert events == ["data: 0", "data: 1", "data: 2"]
    finally:
        server.should_exit = True
        await serving
