"""A very fast fake OpenAI-compatible upstream for benchmarks: a raw ASGI app on uvicorn with
httptools and uvloop, answering fixed bodies so it costs far less than the gateway in front.

Run: python -m bench.upstream <port> [chunk_delay_ms]
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson
import uvicorn

STREAM_CHUNKS = 20

COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1731000000,
        "model": "bench-1",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello from the bench upstream.",
                    "refusal": None,
                },
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
    }
)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1731000000,
            "model": "bench-1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
    )


STREAM_EVENTS = [
    b"data: " + _chunk({"role": "assistant", "content": "tok0"}) + b"\n\n",
    *(b"data: " + _chunk({"content": f" tok{i}"}) + b"\n\n" for i in range(1, STREAM_CHUNKS - 1)),
    b"data: " + _chunk({}, "stop") + b"\n\n",
]
USAGE_EVENT = (
    b"data: "
    + orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1731000000,
            "model": "bench-1",
            "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
        }
    )
    + b"\n\n"
)
DONE = b"data: [DONE]\n\n"

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream")]


def make_app(chunk_delay_s: float) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if b'"stream":true' not in body and b'"stream": true' not in body:
            await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
            await send({"type": "http.response.body", "body": COMPLETION})
            return
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        for event in STREAM_EVENTS:
            await send({"type": "http.response.body", "body": event, "more_body": True})
            if chunk_delay_s:
                await asyncio.sleep(chunk_delay_s)
        tail = USAGE_EVENT + DONE if b'"include_usage":true' in body else DONE
        await send({"type": "http.response.body", "body": tail})

    return app


def main() -> None:
    port = int(sys.argv[1])
    delay_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    uvicorn.run(
        make_app(delay_ms / 1000),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="off",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
